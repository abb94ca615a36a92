// Benchmark: (1) one CLIP training step (forward + backward of the symmetric contrastive loss, all trainable
// parameters) of the tiny CLIP preset (ViT 32 px + text 2x64, batch 64), (2) a ViT-B/32 image-tower forward at batch 32,
// next to the same models in PyTorch (reference/step_bench.py: Debian python3-torch, OpenBLAS, 2 threads) on this
// machine. Prints median ms of each and the ratio tfjs / PyTorch.
//
// On wasm with the native BLAS addon built, both matmul paths are timed in alternating rounds (same machine load):
// the native BLAS (the default) and XNNPACK (what runs without the addon, CLIP_BENCH_BLAS=off), so one run gives the
// before/after. PyTorch runs twice, with OMP_WAIT_POLICY=PASSIVE and with the default policy (libgomp's spinning can
// starve OpenBLAS on a small machine, or help); each row compares against the faster of the two.
//
// Usage: node bench/step.ts [--reps 7] [--vit-reps 3] [--backend auto|wasm|cpu] [--no-vit] [--no-torch] [--profile]
//                           [--no-xnnpack]        (time the default matmul path only)
//                           [--torch-json FILE]   (reuse a saved `python3 reference/step_bench.py --json` result)
// The PyTorch reference runs after the tfjs measurements (never concurrently). Other load on the box skews both: the
// load average is printed, and CPU-time ratios are steadier than wall-time ones.
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import { projectKernels, stockKernel } from '../src/kernels/register.ts';
import { nativeBlasStatus, setNativeBlas } from '../src/kernels/native-blas.ts';
import type { BackendChoice } from '../src/backend.ts';
import { Rng } from '../src/rng.ts';
import { ParamStore } from '../src/nn/params.ts';
import { createClip } from '../src/models/clip.ts';
import type { ClipModel } from '../src/models/clip.ts';
import { buildClipConfig, modelPresets } from '../src/models/presets.ts';
import { createVit } from '../src/models/vit.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const reps = Number(opt('--reps', '7'));
const vitReps = Number(opt('--vit-reps', '3'));
const TINY_BATCH = 64,
  VIT_BATCH = 32,
  EOT = 49407;
const TINY_CONFIG = buildClipConfig('tiny');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
interface Timing {
  median: number;
  min: number;
  cpu: number;
}
type MatMulPath = 'native' | 'xnnpack';
/** The matmul paths to time: the native BLAS first when active, and XNNPACK (the fallback) unless --no-xnnpack. */
function matMulPaths(): MatMulPath[] {
  if (!nativeBlasStatus().active) return ['xnnpack'];
  return flag('--no-xnnpack') ? ['native'] : ['native', 'xnnpack'];
}

/**
 * Wall ms (median and min) and process CPU ms (all threads, median) over n runs after one warm-up run, per matmul
 * path, the paths alternating run by run. On a shared machine the min is the better estimate of uncontended speed.
 */
function timeIt(n: number, f: () => void): Partial<Record<MatMulPath, Timing>> {
  const paths = matMulPaths();
  const wall = new Map<MatMulPath, number[]>(paths.map((p) => [p, []])),
    cpu = new Map<MatMulPath, number[]>(paths.map((p) => [p, []]));
  try {
    for (const p of paths) {
      setNativeBlas(p === 'native');
      f();
    }
    for (let i = 0; i < n; i++) {
      for (const p of paths) {
        setNativeBlas(p === 'native');
        const c0 = process.cpuUsage(),
          t0 = performance.now();
        f();
        wall.get(p)!.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.get(p)!.push((c.user + c.system) / 1000);
      }
    }
  } finally {
    setNativeBlas(paths[0] === 'native');
  }
  const out: Partial<Record<MatMulPath, Timing>> = {};
  for (const p of paths)
    out[p] = { median: median(wall.get(p)!), min: Math.min(...wall.get(p)!), cpu: median(cpu.get(p)!) };
  return out;
}

/** Random token rows shaped like tokenizer output: SOT, words, EOT (the largest id), zero padding. */
function randomIds(rng: Rng, batch: number, context: number): tf.Tensor2D {
  const ids = new Int32Array(batch * context);
  for (let b = 0; b < batch; b++) {
    const len = 5 + rng.int(15);
    ids[b * context] = EOT - 1;
    for (let t = 1; t < len; t++) ids[b * context + t] = 1 + rng.int(EOT - 3);
    ids[b * context + len] = EOT;
  }
  return tf.tensor2d(ids, [batch, context], 'int32');
}

function randomImages(rng: Rng, batch: number, size: number): tf.Tensor4D {
  const data = new Float32Array(batch * size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return tf.tensor4d(data, [batch, size, size, 3]);
}

/** OpenAI CLIP loss: symmetric cross-entropy of scaled cosine similarities, targets on the diagonal. */
function clipLoss(model: ClipModel, images: tf.Tensor4D, ids: tf.Tensor2D): tf.Scalar {
  const img = model.encodeImage(images, { training: true });
  const txt = model.encodeText(ids, { training: true });
  const a = tf.div(img.embedding, tf.norm(img.embedding, 'euclidean', -1, true));
  const b = tf.div(txt.embedding, tf.norm(txt.embedding, 'euclidean', -1, true));
  const logits = tf.mul(tf.exp(model.logitScale), tf.matMul(a, b, false, true));
  const n = logits.shape[0]!;
  const eye = tf.eye(n);
  const ceRows = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits, 1), eye), 1)));
  const ceCols = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.transpose(logits), 1), eye), 1)));
  return tf.div(tf.add(ceRows, ceCols), 2) as tf.Scalar;
}

interface Result {
  step: Partial<Record<MatMulPath, Timing>>;
  tinyParams: number;
  loss: number;
}

function benchTinyStep(): Result {
  const rng = new Rng(20261122);
  const store = new ParamStore();
  const model = createClip(TINY_CONFIG, store, rng.fork());
  const vars = store.trainableVariables();
  const images = randomImages(rng, TINY_BATCH, model.config.vision.imageSize);
  const ids = randomIds(rng, TINY_BATCH, model.config.text.contextLength);
  let loss = NaN;
  const t = timeIt(reps, () => {
    const { value, grads } = tf.variableGrads(() => clipLoss(model, images, ids), vars);
    loss = value.dataSync()[0]!;
    for (const g of Object.values(grads)) g.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  });
  const ab = opt('--ab', '');
  if (ab)
    abCompare(ab.split(','), () => {
      const { value, grads } = tf.variableGrads(() => clipLoss(model, images, ids), vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
  if (flag('--profile'))
    printProfile(() => {
      const { value, grads } = tf.variableGrads(() => clipLoss(model, images, ids), vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
  const tinyParams = store.countValues(true);
  tf.dispose([images, ids]);
  model.dispose();
  return { step: t, tinyParams, loss };
}

/**
 * Before/after for some project kernels: alternates rounds with the project's kernels and with the stock ones for the
 * named kernels (e.g. --ab Identity,Cast), so both see the same machine load. Prints median ms of each.
 */
function abCompare(names: string[], f: () => void): void {
  const ours = projectKernels().filter((k) => names.includes(k.kernelName));
  if (ours.length === 0) throw new Error(`--ab: none of ${names.join(',')} is a project kernel`);
  const useStock = (yes: boolean) => {
    for (const k of ours) {
      if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
      const s = stockKernel(k.kernelName, k.backendName);
      if (yes && s) tf.registerKernel(s); // project-only kernels (fused layer norm) are simply absent: ops fallback
      if (!yes) tf.registerKernel(k);
    }
  };
  const times: Record<'project' | 'stock', number[]> = { project: [], stock: [] };
  const cpu: Record<'project' | 'stock', number[]> = { project: [], stock: [] };
  f();
  for (let round = 0; round < reps; round++) {
    for (const mode of ['project', 'stock'] as const) {
      useStock(mode === 'stock');
      try {
        const c0 = process.cpuUsage(),
          t0 = performance.now();
        f();
        times[mode].push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu[mode].push((c.user + c.system) / 1000);
      } finally {
        useStock(false);
      }
    }
  }
  console.log(
    `A/B ${names.join(',')}: project ${median(times.project).toFixed(1)} ms (CPU ${median(cpu.project).toFixed(1)}), ` +
      `stock ${median(times.stock).toFixed(1)} ms (CPU ${median(cpu.stock).toFixed(1)}) (median of ${reps} alternating rounds)`,
  );
}

/**
 * Per-kernel table of one call of f: wall ms and process CPU ms (all threads) per kernel. The CPU time is the better
 * guide on a busy machine, where wall times include waiting for a core.
 */
function printProfile(f: () => void): void {
  const byName = new Map<string, { ms: number; cpu: number; n: number }>();
  const byShape = new Map<string, { ms: number; cpu: number; n: number }>();
  const engine = tf.engine() as unknown as {
    runKernel: (name: string, inputs: Record<string, tf.Tensor>, attrs: object) => unknown;
  };
  const original = engine.runKernel;
  let depth = 0;
  engine.runKernel = function (name, inputs, attrs) {
    if (depth > 0) return original.call(this, name, inputs, attrs); // kernels run by gradient functions of kernels
    depth++;
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    try {
      return original.call(this, name, inputs, attrs);
    } finally {
      depth--;
      const ms = performance.now() - t0,
        c = process.cpuUsage(c0),
        cpu = (c.user + c.system) / 1000;
      const shape = `${name} ${JSON.stringify(Object.values(inputs).map((t) => t?.shape))}`;
      for (const [map, key] of [
        [byName, name],
        [byShape, shape],
      ] as const) {
        const e = map.get(key) ?? { ms: 0, cpu: 0, n: 0 };
        e.ms += ms;
        e.cpu += cpu;
        e.n++;
        map.set(key, e);
      }
    }
  };
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  try {
    f();
  } finally {
    engine.runKernel = original;
  }
  const c = process.cpuUsage(c0);
  const rows = (m: Map<string, { ms: number; cpu: number; n: number }>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1].cpu - a[1].cpu)
      .slice(0, n)
      .map(
        ([k, e]) =>
          `${e.ms.toFixed(2).padStart(9)} ${e.cpu.toFixed(2).padStart(9)} ${String(e.n).padStart(5)}x  ${k.slice(0, 110)}`,
      );
  const kernelCpu = [...byName.values()].reduce((s, e) => s + e.cpu, 0);
  console.log(
    `profile: ${(performance.now() - t0).toFixed(1)} ms wall, ${((c.user + c.system) / 1000).toFixed(1)} ms CPU ` +
      `(${kernelCpu.toFixed(1)} ms CPU in kernels)\n  wall ms   CPU ms  calls`,
  );
  console.log(rows(byName, 20).join('\n'));
  console.log('by shape:');
  console.log(rows(byShape, 30).join('\n'));
}

function benchVitB32Forward(): Partial<Record<MatMulPath, Timing>> {
  const rng = new Rng(32);
  const store = new ParamStore();
  const vit = createVit(modelPresets['vit-b32'].vision as Parameters<typeof createVit>[0], 512, store, rng.fork());
  const images = randomImages(rng, VIT_BATCH, 224);
  const forward = () => {
    const out = vit.encode(images, { training: false });
    out.embedding.dataSync();
    tf.dispose([out.embedding, out.feature, out.tokens]);
  };
  const t = timeIt(vitReps, forward);
  if (flag('--profile')) printProfile(forward);
  images.dispose();
  store.dispose();
  return t;
}

const info = await initBackend({ backend: opt('--backend', 'auto') as BackendChoice });
const tiny = benchTinyStep();
const vit = flag('--no-vit') ? undefined : benchVitB32Forward();
const memMiB = process.memoryUsage().rss / 2 ** 20;
const matmul = info.name === 'wasm' ? nativeBlasStatus().reason : '';
shutdownBackend();

interface TorchResult {
  tiny_step_ms: number;
  tiny_step_min_ms: number;
  tiny_step_cpu_ms: number;
  vit_b32_forward_ms?: number;
  vit_b32_forward_min_ms?: number;
  vit_b32_forward_cpu_ms?: number;
  threads: number;
  torch: string;
  tiny_params: number;
}
/** PyTorch runs, one per OpenMP wait policy. */
const torchRuns: Array<{ policy: string; result: TorchResult }> = [];
let torchNote = '';
const torchJson = opt('--torch-json', '');
if (torchJson) {
  torchRuns.push({ policy: 'from --torch-json', result: JSON.parse(readFileSync(torchJson, 'utf8')) });
} else if (!flag('--no-torch')) {
  const script = new URL('../reference/step_bench.py', import.meta.url).pathname;
  if (!existsSync('/usr/bin/python3')) torchNote = '/usr/bin/python3 not found';
  else {
    const config = {
      tiny: TINY_CONFIG,
      vit: modelPresets['vit-b32'].vision,
      vitEmbedDim: 512,
      tinyBatch: TINY_BATCH,
      vitBatch: VIT_BATCH,
    };
    for (const policy of ['PASSIVE', 'default']) {
      const env = { ...process.env };
      if (policy === 'default') delete env.OMP_WAIT_POLICY;
      else env.OMP_WAIT_POLICY = policy;
      try {
        const out = execFileSync(
          '/usr/bin/python3',
          [
            script,
            '--json',
            '--reps',
            String(reps),
            '--vit-reps',
            String(vitReps),
            '--config',
            JSON.stringify(config),
            ...(vit === undefined ? ['--no-vit'] : []),
          ],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env },
        );
        torchRuns.push({ policy, result: JSON.parse(out.trim().split('\n').pop()!) });
      } catch (e) {
        torchNote = `PyTorch reference (OMP_WAIT_POLICY ${policy}) failed: ${String((e as Error).message).split('\n')[0]}`;
      }
    }
  }
}

/** The faster PyTorch run for one row (by median wall time), with its policy. */
function bestTorch(key: 'tiny_step' | 'vit_b32_forward'): { t: Timing; policy: string } | undefined {
  let best: { t: Timing; policy: string } | undefined;
  for (const { policy, result } of torchRuns) {
    const med = result[`${key}_ms`];
    if (med === undefined) continue;
    const t = { median: med, min: result[`${key}_min_ms`]!, cpu: result[`${key}_cpu_ms`]! };
    if (!best || t.median < best.t.median) best = { t, policy };
  }
  return best;
}

const load = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const torch0 = torchRuns[0]?.result;
console.log(
  `tfjs ${tf.version.tfjs} on ${info.name} (${info.threads} thread(s)${matmul ? `; ${matmul}` : ''}); ` +
    `PyTorch ${torch0?.torch ?? '-'} (${torch0?.threads ?? '-'} threads); load average ${load}; tfjs RSS ${memMiB.toFixed(0)} MiB`,
);
const fmt = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '-';
const cols = ['median', 'min', 'cpu'] as const;
const row = (name: string, o: Timing | undefined, r: Timing | undefined) =>
  console.log(
    name.padEnd(46) +
      cols
        .map((c) => fmt(o?.[c]).padStart(9) + fmt(r?.[c]).padStart(9) + ratio(o?.[c], r?.[c]).padStart(7))
        .join('  |'),
  );
console.log(''.padEnd(46) + ['median wall ms', 'min wall ms', 'median CPU ms'].map((h) => h.padStart(25)).join('  |'));
console.log(
  ''.padEnd(46) + cols.map(() => 'tfjs'.padStart(9) + 'PyTorch'.padStart(9) + 'ratio'.padStart(7)).join('  |'),
);
const pathName: Record<MatMulPath, string> = { native: 'native BLAS', xnnpack: 'XNNPACK' };
const policies: string[] = [];
for (const [label, timings, key] of [
  [`tiny CLIP train step, batch ${TINY_BATCH}`, tiny.step, 'tiny_step'],
  [`ViT-B/32 forward, batch ${VIT_BATCH}`, vit, 'vit_b32_forward'],
] as const) {
  const ref = bestTorch(key);
  if (ref) policies.push(`${label}: ${ref.policy}`);
  const paths = Object.keys(timings ?? { xnnpack: 0 }) as MatMulPath[];
  for (const p of paths) row(`${label} (${pathName[p]})`, timings?.[p], ref?.t);
  if (timings?.native && timings.xnnpack) {
    console.log(
      `  native BLAS vs XNNPACK: ${(timings.xnnpack.median / timings.native.median).toFixed(2)}x faster (wall median), ` +
        `${(timings.xnnpack.cpu / timings.native.cpu).toFixed(2)}x less CPU`,
    );
  }
}
if (policies.length) console.log(`PyTorch column: the faster OMP_WAIT_POLICY run (${policies.join('; ')})`);
console.log(`tiny CLIP: ${(tiny.tinyParams / 1e6).toFixed(2)}M trainable parameters, loss ${tiny.loss.toFixed(4)}`);
if (torchNote) console.log(torchNote);
if (torch0 && torch0.tiny_params !== tiny.tinyParams) {
  console.log(`warning: trainable parameter counts differ (tfjs ${tiny.tinyParams}, PyTorch ${torch0.tiny_params})`);
}
