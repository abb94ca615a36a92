// Shard writer sink: samples -> webdataset tar shards named by a printf pattern (`dir/out-%06d.tar`).
// Members of one sample are adjacent and in sorted extension order; headers are deterministic
// (mtime 0, uid/gid 0, mode 0644, no user/group names), so the same samples give byte-identical shards.
// A new shard starts when the current one holds maxCount samples or the next sample would push it
// past maxSize bytes (a single sample larger than maxSize gets a shard of its own).
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import tar from 'tar-stream';
import type { Sink } from '../core/stage.ts';
import { throwIfAborted } from '../core/stage.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { formatShardName } from '../../src/webdataset/shard-pattern.ts';
import { sampleMembers, tarMemberBytes } from '../../src/webdataset/sample-members.ts';

export interface WriteShardsOptions {
  /** printf pattern with one %d placeholder, e.g. 'out/train-%06d.tar'. */
  pattern: string;
  /** Samples per shard (default 100,000 like webdataset's ShardWriter). */
  maxCount?: number;
  /** Bytes per shard (default 3e9). */
  maxSize?: number;
  /** Number of the first shard (default 0). */
  startIndex?: number;
  /** Called after each shard is closed. */
  onShard?: (path: string, samples: number) => void;
}

export interface WriteShardsResult {
  shards: string[];
  samples: number;
}

const END_OF_ARCHIVE_BYTES = 1024;

/** One open output shard: a tar-stream pack drained into a file (written as `path.partial`, renamed on close). */
class ShardFile {
  readonly path: string;
  samples = 0;
  bytes = 0;
  private readonly pack = tar.pack();
  private readonly drained: Promise<void>;

  private constructor(path: string, drained: (pack: tar.Pack) => Promise<void>) {
    this.path = path;
    this.drained = drained(this.pack);
    this.drained.catch(() => {});
  }

  static async create(path: string): Promise<ShardFile> {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path + '.partial', 'w');
    return new ShardFile(path, async (pack) => {
      try {
        for await (const chunk of pack as AsyncIterable<Uint8Array>) await handle.write(chunk);
      } finally {
        await handle.close();
      }
    });
  }

  async add(name: string, data: Uint8Array): Promise<void> {
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const header = {
      name,
      size: buffer.byteLength,
      mode: 0o644,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      mtime: new Date(0),
      type: 'file' as const,
    };
    await new Promise<void>((resolve, reject) => {
      this.pack.entry(header, buffer, (err) => (err ? reject(err) : resolve()));
    });
    this.bytes += tarMemberBytes(buffer.byteLength);
  }

  async close(): Promise<void> {
    this.pack.finalize();
    await this.drained;
    await rename(this.path + '.partial', this.path);
  }

  abort(error: Error): void {
    this.pack.destroy(error);
  }
}

export function writeShards(options: WriteShardsOptions): Sink<WdsSample, WriteShardsResult> {
  const maxCount = options.maxCount ?? 100_000;
  const maxSize = options.maxSize ?? 3e9;
  if (!(maxCount >= 1)) throw new RangeError(`writeShards: maxCount must be >= 1, got ${maxCount}`);
  if (!(maxSize > 0)) throw new RangeError(`writeShards: maxSize must be > 0, got ${maxSize}`);
  formatShardName(options.pattern, 0); // validate the pattern before any data flows

  return async (source, ctx) => {
    const shards: string[] = [];
    let samples = 0;
    let index = options.startIndex ?? 0;
    let shard: ShardFile | undefined;
    const finish = async () => {
      if (!shard) return;
      const done = shard;
      shard = undefined;
      await done.close();
      shards.push(done.path);
      ctx.counters.inc('shards_written');
      options.onShard?.(done.path, done.samples);
    };
    try {
      for await (const sample of source) {
        throwIfAborted(ctx.signal);
        const members = sampleMembers(sample);
        const size = members.reduce((n, m) => n + tarMemberBytes(m.data.byteLength), 0);
        if (shard && (shard.samples >= maxCount || shard.bytes + size + END_OF_ARCHIVE_BYTES > maxSize)) await finish();
        if (!shard) shard = await ShardFile.create(formatShardName(options.pattern, index++));
        for (const m of members) await shard.add(m.name, m.data);
        shard.samples++;
        samples++;
        ctx.counters.inc('samples_written');
      }
      await finish();
    } catch (error) {
      shard?.abort(error as Error);
      throw error;
    }
    return { shards, samples };
  };
}
