// The shard an earlier run wrote for a slice that was not final: when the slice is redone with the same recipe, its
// rows that succeeded then are taken from it instead of being downloaded again (only the failures are retried).
// The tar is indexed by reading its member headers (our writer's plain ustar members); a member is read by offset
// when its row comes by, so memory stays at one image. The new shard replaces the old one only when the slice is
// complete, after every read.
import { open } from 'node:fs/promises';
import { paddedSize } from '../../src/webdataset/compression.ts';

export interface PreviousSample {
  jpg: Uint8Array;
  /** The sample's .json as written: the image's metadata (size, format, hashes, source, attempts). */
  json: Record<string, unknown>;
}

export interface PreviousShard {
  path: string;
  /** Keys with both a .jpg and a .json member. */
  has(key: string): boolean;
  read(key: string): Promise<PreviousSample>;
}

const text = (b: Buffer, start: number, length: number) => {
  const s = b.subarray(start, start + length);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? s.length : end).toString('utf8');
};

/** Index the tar at `path`; undefined when there is none or it cannot be read as a plain tar. */
export async function openPreviousShard(path: string): Promise<PreviousShard | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch {
    return undefined;
  }
  const members = new Map<string, { offset: number; size: number }>();
  try {
    const size = (await file.stat()).size;
    const header = Buffer.alloc(512);
    let offset = 0;
    while (offset + 512 <= size) {
      await file.read(header, 0, 512, offset);
      if (header.every((b) => b === 0)) break;
      const name = (text(header, 345, 155) ? `${text(header, 345, 155)}/` : '') + text(header, 0, 100);
      const length = parseInt(text(header, 124, 12).trim() || '0', 8);
      const type = String.fromCharCode(header[156]);
      if (!Number.isFinite(length)) return undefined;
      if (type === '0' || header[156] === 0) members.set(name, { offset: offset + 512, size: length });
      offset += 512 + paddedSize(length);
    }
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
  const readMember = async (name: string): Promise<Buffer> => {
    const m = members.get(name)!;
    const handle = await open(path, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      await handle.read(buf, 0, m.size, m.offset);
      return buf;
    } finally {
      await handle.close();
    }
  };
  return {
    path,
    has: (key) => members.has(`${key}.jpg`) && members.has(`${key}.json`),
    read: async (key) => ({
      jpg: await readMember(`${key}.jpg`),
      json: JSON.parse((await readMember(`${key}.json`)).toString('utf8')) as Record<string, unknown>,
    }),
  };
}
