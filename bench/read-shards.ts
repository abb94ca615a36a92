// Shard-reading benchmark: readShards (tar-stream, grouping, counters) over webdataset shards made from
// ../shared/data/cifar10-test (10000 small JPEGs, 5 shards) and ../shared/data/flickr8k-1k (1000 photos,
// 4 shards), no decoding, next to reference/read_shards_bench.py (webdataset's tarfile iteration and
// group_by_keys inlined, run with Debian's /usr/bin/python3) on the same files, and the ratio.
// Both read from the page cache (each is run once before timing). Best of --repeats.
// Usage: node bench/read-shards.ts [--repeats 3] [--no-python]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readShards } from '../stages/webdataset/read-shards.ts';
import { createContext } from '../stages/core/stage.ts';
import { makeCaptionShards, makeClassFolderShards } from '../run/make-shards.ts';

const { values: args } = parseArgs({
  options: { repeats: { type: 'string', default: '3' }, 'no-python': { type: 'boolean', default: false } },
});
const repeats = Number(args.repeats);
const shared = fileURLToPath(new URL('../../shared/data/', import.meta.url));
const python = '/usr/bin/python3';

async function ours(shards: string[]) {
  let best = Infinity,
    samples = 0,
    bytes = 0;
  for (let r = 0; r <= repeats; r++) {
    // r = 0 warms the page cache and the JIT
    const ctx = createContext();
    const started = performance.now();
    samples = 0;
    for await (const _ of readShards({ shards, ctx })) samples++;
    const seconds = (performance.now() - started) / 1000;
    bytes = ctx.counters.get('bytes_read');
    if (r > 0) best = Math.min(best, seconds);
  }
  return { samples, bytes, seconds: best, samples_per_s: samples / best, mb_per_s: bytes / best / 1e6 };
}

function reference(shards: string[]) {
  const run = spawnSync(
    python,
    [
      fileURLToPath(new URL('../reference/read_shards_bench.py', import.meta.url)),
      '--repeats',
      String(repeats),
      ...shards,
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`reference failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim()) as {
    samples: number;
    bytes: number;
    seconds: number;
    samples_per_s: number;
    mb_per_s: number;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-read-shards-'));
try {
  const quiet = () => createContext();
  const sets = {
    'cifar10-test (10000 x 32px jpg+cls)': (
      await makeClassFolderShards({
        root: join(shared, 'cifar10-test'),
        pattern: join(dir, 'cifar-%06d.tar'),
        maxCount: 2000,
        ctx: quiet(),
      })
    ).shards,
    'flickr8k-1k (1000 photos jpg+txt+json)': (
      await makeCaptionShards({
        table: join(shared, 'flickr8k-1k', 'captions.txt'),
        pattern: join(dir, 'flickr-%06d.tar'),
        maxCount: 250,
        ctx: quiet(),
      })
    ).shards,
  };
  const withPython = !args['no-python'] && spawnSync(python, ['-c', 'import tarfile']).status === 0;
  console.log(`read-shards: best of ${repeats}, no decoding; node ${process.version}`);
  console.log(
    [
      'dataset',
      'samples',
      'MB',
      'node samples/s',
      'node MB/s',
      ...(withPython ? ['python samples/s', 'python MB/s', 'node/python'] : []),
    ].join(' | '),
  );
  for (const [name, shards] of Object.entries(sets)) {
    const a = await ours(shards);
    const row = [name, a.samples, (a.bytes / 1e6).toFixed(1), a.samples_per_s.toFixed(0), a.mb_per_s.toFixed(0)];
    if (withPython) {
      const b = reference(shards);
      if (b.samples !== a.samples) throw new Error(`sample counts differ: node ${a.samples}, python ${b.samples}`);
      row.push(b.samples_per_s.toFixed(0), b.mb_per_s.toFixed(0), (a.samples_per_s / b.samples_per_s).toFixed(2));
    }
    console.log(row.join(' | '));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
