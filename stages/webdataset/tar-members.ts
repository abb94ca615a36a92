// Bytes of one shard -> its regular-file tar members, in order. Whole-shard gzip/bzip2 is detected
// from the first bytes; members named `*.gz` are gunzipped (and lose the `.gz`). Directory and other
// non-file entries are skipped. A container error (truncated or garbage tar, broken gzip, failing
// source) throws a ShardReadError with the tar byte offset; a member that cannot be decoded is yielded
// with `error` set so the caller can drop its sample and keep reading the shard.
import type { Readable } from 'node:stream';
import { PassThrough, pipeline } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import bz2 from 'unbzip2-stream';
import { detectCompression, paddedSize } from '../../src/webdataset/compression.ts';
import type { TarMember } from '../../src/webdataset/group-samples.ts';
import { ShardReadError } from '../../src/webdataset/shard-error.ts';

export interface TarMemberStats {
  /** Raw bytes read from the source (compressed size for .tgz). */
  bytes: number;
}

async function* countChunks(head: Buffer, rest: AsyncIterator<Buffer>, stats: TarMemberStats): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  while (true) {
    const next = await rest.next();
    if (next.done) return;
    stats.bytes += next.value.length;
    yield next.value;
  }
}

/** Decompress if needed: an async iterable of tar bytes. */
async function decompressed(raw: Readable, url: string, stats: TarMemberStats): Promise<AsyncIterable<Buffer>> {
  const iterator = (raw as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 6) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  stats.bytes += head.length;
  const chunks = countChunks(head, iterator, stats);
  switch (detectCompression(head)) {
    case 'none':
      return chunks;
    case 'gzip':
      return pipeline(chunks, createGunzip(), () => {});
    case 'bzip2': {
      // unbzip2-stream is a classic through stream (not async-iterable): pipe it into a PassThrough.
      const out = new PassThrough();
      pipeline(chunks, bz2(), out, () => {});
      return out;
    }
    case 'xz':
      throw new ShardReadError(url, 'xz-compressed shards are not supported (use gzip or uncompressed tar)', 0);
  }
}

/**
 * Yield the regular-file members of the tar in `raw`. Closing the generator early destroys `raw`.
 * Memory is bounded by one member (plus stream buffers).
 */
export async function* tarMembers(
  raw: Readable,
  url: string,
  stats: TarMemberStats = { bytes: 0 },
  options: { maxMemberBytes?: number } = {},
): AsyncGenerator<TarMember> {
  const maxMemberBytes = options.maxMemberBytes ?? 2 ** 30;
  const extract = tar.extract();
  let nextHeader = 0; // where the next header starts in the tar stream
  let current: number | undefined; // header offset of the member being read
  let currentName: string | undefined;
  let feedError: unknown;
  const wrap = (error: unknown): ShardReadError => {
    if (error instanceof ShardReadError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new ShardReadError(url, reason, current ?? nextHeader, {
      cause: error,
      member: current === undefined ? undefined : currentName,
    });
  };
  const feeder = (async () => {
    try {
      for await (const chunk of await decompressed(raw, url, stats)) {
        if (extract.destroyed) return;
        if (!extract.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              extract.off('drain', done);
              extract.off('close', done);
              resolve();
            };
            extract.on('drain', done);
            extract.on('close', done);
          });
        }
      }
      (extract as unknown as { end(): void }).end();
    } catch (error) {
      feedError = error;
      extract.destroy(error as Error);
    }
  })();
  try {
    for await (const entry of extract) {
      const header = entry.header;
      current = nextHeader;
      currentName = header.name;
      const dataStart = (header as { byteOffset?: number }).byteOffset ?? nextHeader + 512;
      if ((header.size ?? 0) > maxMemberBytes) {
        throw new ShardReadError(
          url,
          `member ${header.name} is ${header.size} bytes, more than maxMemberBytes (${maxMemberBytes})`,
          current,
        );
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      nextHeader = dataStart + paddedSize(header.size ?? 0);
      const offset = current;
      current = undefined;
      if (header.type !== 'file' && header.type !== 'contiguous-file') continue;
      const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (/\.gz$/i.test(header.name)) {
        const name = header.name.slice(0, -3);
        try {
          const plain = gunzipSync(data);
          yield { name, data: new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength), offset };
        } catch (error) {
          yield {
            name,
            data: new Uint8Array(0),
            offset,
            error: `cannot gunzip member ${header.name}: ${(error as Error).message}`,
          };
        }
      } else {
        yield { name: header.name, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset };
      }
    }
    if (feedError) throw feedError;
  } catch (error) {
    throw wrap(feedError ?? error);
  } finally {
    if (!extract.destroyed) extract.destroy();
    raw.destroy();
    await feeder;
  }
}
