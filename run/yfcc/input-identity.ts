// The identity of an input file of a YFCC job (src/yfcc/recipe.ts says what is compared and why): its size and a
// SHA-256 of its first and last 4 MiB, with path and modification time for the reader; `pipe:CMD` inputs by command.
import { open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { InputIdentity } from '../../src/yfcc/recipe.ts';

const SAMPLE_BYTES = 4 << 20;

export async function inputIdentity(path: string): Promise<InputIdentity> {
  if (path.startsWith('pipe:')) return { path, command: path.slice(5) };
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new Error(`${path}: no such file`);
  }
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    const read = async (position: number, length: number) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await file.read(buf, 0, length, position);
      hash.update(buf.subarray(0, bytesRead));
    };
    if (info.size <= 2 * SAMPLE_BYTES) await read(0, info.size);
    else {
      await read(0, SAMPLE_BYTES);
      await read(info.size - SAMPLE_BYTES, SAMPLE_BYTES);
    }
  } finally {
    await file.close();
  }
  return { path, size: info.size, mtime: info.mtime.toISOString(), sample: hash.digest('hex') };
}
