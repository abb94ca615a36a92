// Data-path benchmark: webdataset shards made from ../shared/data/flickr8k-1k (1000 real photos, written with
// stages/webdataset/write-shards.ts into a temp dir) -> readShards -> decodeViews (piscina + sharp) -> collated batches
// of 32 ([B, H, W, 3] float32 per view, like torch's default_collate) -> drain. Reports samples/s and cores used
// (process CPU time / wall time) for two MoCo-v2 224x224 views (float conversion in the workers and on the main thread)
// and the single-view eval transform, next to reference/data_path_bench.py (torch DataLoader, 2 workers, the same
// views, python tarfile over the same shards) and the ratio.
// Usage: node bench/data-path.ts [--repeats 2] [--size 224] [--no-python]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { writeShards } from '../stages/webdataset/write-shards.ts';
import { readShards } from '../stages/webdataset/read-shards.ts';
import { createImagePool, decodeViews, type ImagePool } from '../stages/image/decode-views.ts';
import { createContext, runStages, type Stage } from '../stages/core/stage.ts';
import { batch } from '../stages/core/batch.ts';
import { viewPresets } from '../src/image/presets.ts';
import type { ImageView, ViewSpec } from '../src/image/view-spec.ts';
import type { WdsSample } from '../src/webdataset/sample.ts';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '2' },
    size: { type: 'string', default: '224' },
    'no-python': { type: 'boolean', default: false },
  },
});
const repeats = Number(args.repeats),
  size = Number(args.size);
const flickr = new URL('../../shared/data/flickr8k-1k/', import.meta.url).pathname;
const python = '/usr/bin/python3';

async function makeShards(dir: string): Promise<string[]> {
  const lines = readFileSync(join(flickr, 'captions.txt'), 'utf8').trim().split('\n').slice(1);
  const captions = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(',');
    const f = line.slice(0, i);
    if (!captions.has(f)) captions.set(f, line.slice(i + 1));
  }
  const samples = [...captions.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([file, caption]): WdsSample => ({
        __key__: file.replace(/\.jpg$/, ''),
        __url__: '',
        jpg: new Uint8Array(readFileSync(join(flickr, 'images', file))),
        txt: new TextEncoder().encode(caption),
      }),
    );
  const result = await runStages(
    createContext(),
    samples,
    [],
    writeShards({ pattern: join(dir, 'flickr-%06d.tar'), maxCount: 250 }),
  );
  return result.shards;
}

/** default_collate of the views: one [B, H, W, 3] Float32Array per view index. */
const collate: Stage<
  Array<WdsSample & { views: ImageView[] }>,
  { n: number; views: Float32Array[] }
> = async function* (source) {
  for await (const group of source) {
    const per = group[0].views.map((v) => v.data.length);
    const views = per.map((len, vi) => {
      const out = new Float32Array(group.length * len);
      group.forEach((s, i) => out.set(s.views[vi].data, i * len));
      return out;
    });
    yield { n: group.length, views };
  }
};

interface Run {
  samples: number;
  seconds: number;
  samplesPerS: number;
  cores: number;
}

async function runNode(shards: string[], views: ViewSpec[], pool: ImagePool, floatIn: 'worker' | 'main'): Promise<Run> {
  const ctx = createContext();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let samples = 0;
  await runStages(
    ctx,
    readShards({ shards, ctx }),
    [decodeViews({ views, seed: 7, pool, floatIn }), batch(32), collate],
    async (source) => {
      for await (const b of source as AsyncIterable<{ n: number }>) samples += b.n;
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (ctx.counters.get('images_skipped') > 0) throw new Error(`bench: ${ctx.counters.format()}`);
  return { samples, seconds, samplesPerS: samples / seconds, cores: (cpu.user + cpu.system) / 1e6 / seconds };
}

function runPython(shards: string[], views: 'mocov2' | 'eval'): Run {
  const r = spawnSync(
    python,
    [
      new URL('../reference/data_path_bench.py', import.meta.url).pathname,
      '--views',
      views,
      '--size',
      String(size),
      '--workers',
      '2',
      '--batch',
      '32',
      ...shards,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`python reference failed: ${r.stderr.trim().split('\n').pop()}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { samples: j.samples, seconds: j.seconds, samplesPerS: j.samples_per_s, cores: j.cores };
}

const best = (runs: Run[]) => runs.reduce((a, b) => (b.samplesPerS > a.samplesPerS ? b : a));
const fmt = (r: Run) =>
  `${r.samplesPerS.toFixed(1).padStart(7)} samples/s  ${r.cores.toFixed(2)} cores  ` +
  `${(r.samplesPerS / r.cores).toFixed(1).padStart(6)} samples/cpu-s  (${r.samples} samples in ` +
  `${r.seconds.toFixed(2)} s)`;

const loadBefore = loadavg();
const dir = mkdtempSync(join(tmpdir(), 'clip-bench-data-path-'));
const pool = createImagePool();
try {
  const shards = await makeShards(dir);
  console.log(
    `# data path: ${shards.length} shards, flickr8k-1k, views ${size}x${size}, pool ${pool.size} workers, ` +
      `best of ${repeats}`,
  );
  const two = [viewPresets.mocov2(size), viewPresets.mocov2(size)];
  const evalView = [viewPresets.eval(size)];
  await runNode(shards.slice(0, 1), two, pool, 'worker'); // warm up workers and JIT
  // Node and Python runs are interleaved, repeat by repeat, so both see the same background load.
  type Case = { name: string; run: () => Promise<Run> | Run };
  const cases: Case[] = [
    { name: 'node   mocov2 x2, float in worker', run: () => runNode(shards, two, pool, 'worker') },
    { name: 'node   mocov2 x2, float on main', run: () => runNode(shards, two, pool, 'main') },
    { name: 'node   eval x1, float in worker', run: () => runNode(shards, evalView, pool, 'worker') },
  ];
  if (!args['no-python']) {
    cases.splice(1, 0, { name: 'python mocov2 x2 (DataLoader, 2 workers)', run: () => runPython(shards, 'mocov2') });
    cases.push({ name: 'python eval x1 (DataLoader, 2 workers)', run: () => runPython(shards, 'eval') });
  }
  const runs = new Map<string, Run[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < repeats; i++) for (const c of cases) runs.get(c.name)!.push(await c.run());
  const results = new Map([...runs].map(([name, rs]) => [name, best(rs)]));
  console.log(
    `# load average before: ${loadBefore.map((x) => x.toFixed(1)).join(' ')}, after: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (2 cores)`,
  );
  for (const [name, r] of results) console.log(`${name.padEnd(42)} ${fmt(r)}`);
  const ratio = (a: string, b: string) => {
    const x = results.get(a),
      y = results.get(b);
    if (x && y) {
      console.log(
        `ratio  ${a.slice(7).padEnd(35)} ${(x.samplesPerS / y.samplesPerS).toFixed(2)}x python samples/s, ` +
          `${(x.samplesPerS / x.cores / (y.samplesPerS / y.cores)).toFixed(2)}x python samples per cpu-second`,
      );
    }
  };
  ratio('node   mocov2 x2, float in worker', 'python mocov2 x2 (DataLoader, 2 workers)');
  ratio('node   mocov2 x2, float on main', 'python mocov2 x2 (DataLoader, 2 workers)');
  ratio('node   eval x1, float in worker', 'python eval x1 (DataLoader, 2 workers)');
} finally {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
}
