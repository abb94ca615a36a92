// GPU benchmark: the training step as the runner runs it (src/train/trainer.ts: forward, loss, backward, guard, AdamW)
// and the zero-shot forward, on the WebGPU adapter (or any backend), next to the same steps in PyTorch
// (reference/gpu_step_bench.py, fp32 and bf16 autocast) on the same machine.
//
// Cases (samples/s = batch / median step time over --steps steps after --warmup steps):
//   tiny        tiny CLIP (tiny-vit 32 px, 2x64 text), batch 64
//   clip128     ViT-B/32 + 12x512-text CLIP, batch 128
//   clip256     the same, batch 256
//   cache1024   the same, global batch 1024 through the gradient cache (micro-batch 256)
//   declip128   DeCLIP on ViT-B/32 + 12x512 text (2 image views, EDA + MLM text views, 65 536-entry NN queue), batch 128
//   zeroshot256 ViT-B/32 image tower + 1000-class zero-shot head, batch 256, images/s (eval mode, no gradient)
// Prints the adapter (vendor, architecture, limits), the GPU's memory (nvidia-smi when present; tfjs's own count of
// GPU bytes always), one row per case and the PyTorch rows with ratios.
//
// Usage: node bench/gpu.ts [--backend webgpu] [--cases tiny,clip128,...] [--steps 10] [--warmup 3] [--quick]
//                          [--no-torch] [--torch-json FILE] [--json OUT] [--profile]
//   --quick    only the tiny case, 3 steps (what a software adapter can do in a few minutes)
//   --profile  one extra tiny step under tf.profile: kernel counts and (with timestamp queries) GPU ms per kernel
//   --batch-div N  divide every batch by N (a smoke test of all cases on a small machine)
// One command on a GPU machine: bench/gpu-run.sh (unpacks the bundle made by bench/gpu-bundle.sh and runs this).
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { initBackend, shutdownBackend, type BackendChoice } from '../src/backend.ts';
import { Rng } from '../src/rng.ts';
import { ParamStore } from '../src/nn/params.ts';
import { createClip, type ClipModel } from '../src/models/clip.ts';
import { buildClipConfig, type ClipConfig } from '../src/models/presets.ts';
import { createSupervision } from '../src/supervision/index.ts';
import { Trainer } from '../src/train/trainer.ts';
import type { TrainBatch } from '../src/train/contracts.ts';
import { l2Normalize } from '../src/nn/l2-normalize.ts';
import { describeAdapter } from '../src/webgpu/gpu.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, def: string) => {
  const i = args.lastIndexOf(name); // the last one wins (gpu-run.sh puts defaults first)
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const quick = flag('--quick');
const steps = Number(opt('--steps', quick ? '3' : '10'));
const warmup = Number(opt('--warmup', quick ? '1' : '3'));
const ALL = ['tiny', 'clip128', 'clip256', 'cache1024', 'declip128', 'zeroshot256'];
const cases = opt('--cases', quick ? 'tiny' : ALL.join(',')).split(',');
const div = Number(opt('--batch-div', '1'));
for (const c of cases) if (!ALL.includes(c)) throw new Error(`--cases: unknown case "${c}" (known: ${ALL.join(', ')})`);

interface Row {
  case: string;
  batch: number;
  micro: number;
  ms: number;
  minMs: number;
  perSec: number;
  unit: 'samples/s' | 'images/s';
  loss?: number;
  gpuMiB?: number;
}

const TINY = buildClipConfig('tiny');
const VITB32 = buildClipConfig('vit-b32');

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

function gpuBytes(): number | undefined {
  const m = tf.memory() as { numBytesInGPUAllocated?: number; numBytesInGPU?: number };
  const b = (tf.backend() as unknown as { bufferManager?: { numBytesAllocated: number } }).bufferManager;
  return b?.numBytesAllocated ?? m.numBytesInGPU;
}

/** Host-made batch for a supervision's declared views (what assembleBatch hands the trainer). */
function makeBatch(config: ClipConfig, imageViews: number, textViews: readonly string[], n: number, seed: number) {
  const r = new Rng(seed);
  const size = config.vision.imageSize;
  const ctx = config.text.contextLength;
  const vocab = config.text.vocabSize;
  const images = Array.from({ length: imageViews }, () => {
    const d = new Float32Array(n * size * size * 3);
    for (let i = 0; i < d.length; i++) d[i] = r.normal();
    return tf.tensor4d(d, [n, size, size, 3]);
  });
  const ids = (labels: boolean) => {
    const d = new Int32Array(n * ctx).fill(labels ? -100 : 0);
    for (let b = 0; b < n; b++) {
      const len = 5 + r.int(15);
      if (!labels) d[b * ctx] = vocab - 2;
      for (let t = 1; t < len; t++)
        d[b * ctx + t] = labels ? (r.int(7) === 0 ? 1 + r.int(vocab - 3) : -100) : 1 + r.int(vocab - 3);
      if (!labels) d[b * ctx + len] = vocab - 1;
    }
    return tf.tensor2d(d, [n, ctx], 'int32');
  };
  const texts: TrainBatch['texts'] = {};
  for (const v of textViews) texts[v as 'raw'] = ids(false);
  if (textViews.includes('mlm')) texts.mlmLabels = ids(true);
  return { images, texts } as TrainBatch;
}

async function trainCase(
  name: string,
  config: ClipConfig,
  supervision: string,
  batch: number,
  micro: number,
): Promise<Row> {
  const rng = new Rng(1);
  const model = createClip(config, new ParamStore(), rng.fork());
  const sup = createSupervision(supervision, {});
  sup.addHeads(model, rng.fork());
  const trainer = new Trainer<ClipModel>(model, sup, {
    schedule: { baseLr: 1e-5, peakLr: 1e-4, warmupSteps: 2, totalSteps: 1000, minLr: 0 },
    adamw: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 },
    microBatchSize: micro,
    nanPolicy: 'stop',
  });
  const data = makeBatch(config, sup.imageViews.length, sup.textViews, batch, 7);
  const times: number[] = [];
  let loss = NaN;
  try {
    for (let s = 0; s < warmup + steps; s++) {
      const t0 = performance.now();
      const r = await trainer.trainStep(data);
      if (r.verdict.action !== 'ok') throw new Error(`${name}: step ${r.step} ${JSON.stringify(r.verdict)}`);
      loss = r.loss;
      if (s >= warmup) times.push(performance.now() - t0);
    }
  } finally {
    tf.dispose([...data.images, ...Object.values(data.texts)]);
    trainer.dispose();
    sup.dispose();
    model.dispose();
  }
  const ms = median(times);
  const bytes = gpuBytes();
  return {
    case: name,
    batch,
    micro,
    ms,
    minMs: Math.min(...times),
    perSec: (batch * 1000) / ms,
    unit: 'samples/s',
    loss,
    ...(bytes ? { gpuMiB: bytes / 2 ** 20 } : {}),
  };
}

async function zeroShotCase(batch: number): Promise<Row> {
  const model = createClip(VITB32, new ParamStore(), new Rng(2));
  const classes = tf.tidy(() =>
    l2Normalize(tf.randomNormal([1000, VITB32.embedDim], 0, 1, 'float32', 3) as tf.Tensor2D),
  );
  const r = new Rng(4);
  const d = new Float32Array(batch * 224 * 224 * 3);
  for (let i = 0; i < d.length; i++) d[i] = r.normal();
  const images = tf.tensor4d(d, [batch, 224, 224, 3]);
  const times: number[] = [];
  for (let s = 0; s < warmup + steps; s++) {
    const t0 = performance.now();
    const pred = tf.tidy(() => {
      const e = l2Normalize(model.encodeImage(images, { training: false }).embedding);
      return tf.argMax(tf.matMul(e, classes, false, true), 1);
    });
    await pred.data();
    pred.dispose();
    if (s >= warmup) times.push(performance.now() - t0);
  }
  tf.dispose([classes, images]);
  model.dispose();
  const ms = median(times);
  return {
    case: 'zeroshot256',
    batch,
    micro: 0,
    ms,
    minMs: Math.min(...times),
    perSec: (batch * 1000) / ms,
    unit: 'images/s',
  };
}

async function profileTinyStep(): Promise<void> {
  const rng = new Rng(5);
  const model = createClip(TINY, new ParamStore(), rng.fork());
  const sup = createSupervision('clip', {});
  sup.addHeads(model, rng.fork());
  const trainer = new Trainer<ClipModel>(model, sup, {
    schedule: { baseLr: 1e-5, peakLr: 1e-4, warmupSteps: 2, totalSteps: 1000, minLr: 0 },
    adamw: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 },
    microBatchSize: 0,
    nanPolicy: 'stop',
  });
  const data = makeBatch(TINY, 1, sup.textViews, 64, 9);
  await trainer.trainStep(data);
  const info = await tf.profile(async () => {
    await trainer.trainStep(data);
    return tf.scalar(0);
  });
  const byName = new Map<string, { n: number; ms: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((a, e) => a + e.ms, 0);
  console.log(
    `profile of one tiny CLIP step: ${info.kernels.length} kernels, ${total.toFixed(1)} ms of kernel time` +
      (total === 0 ? ' (no timestamp queries on this adapter: counts only)' : ''),
  );
  for (const [k, e] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms || b[1].n - a[1].n).slice(0, 20))
    console.log(`  ${k.padEnd(28)} ${String(e.n).padStart(5)}x ${e.ms.toFixed(2).padStart(9)} ms`);
  tf.dispose([...data.images, ...Object.values(data.texts)]);
  trainer.dispose();
  sup.dispose();
  model.dispose();
}

function nvidiaSmi(): string | null {
  try {
    return execFileSync(
      'nvidia-smi',
      ['--query-gpu=name,memory.total,memory.used,driver_version', '--format=csv,noheader'],
      {
        encoding: 'utf8',
        timeout: 10000,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    ).trim();
  } catch {
    return null;
  }
}

const smi = nvidiaSmi();
if (smi) console.log(`nvidia-smi: ${smi}`);
// without the backend (no Vulkan driver here) the PyTorch peer still runs, so a GPU session is never wasted
const info = await initBackend({ backend: opt('--backend', 'webgpu') as BackendChoice, quiet: true }).catch((e) => {
  console.log(`clip-bench side skipped: ${(e as Error).message}`);
  return null;
});
if (info)
  console.log(
    `backend ${info.name}: ${info.adapter ? describeAdapter(info.adapter) : `${info.name} (${info.threads} thread(s))`}`,
  );
const rows: Row[] = [];
for (const c of info ? cases : []) {
  const t0 = performance.now();
  let row: Row;
  try {
    if (c === 'tiny') row = await trainCase(c, TINY, 'clip', 64 / div, 0);
    else if (c === 'clip128') row = await trainCase(c, VITB32, 'clip', 128 / div, 0);
    else if (c === 'clip256') row = await trainCase(c, VITB32, 'clip', 256 / div, 0);
    else if (c === 'cache1024') row = await trainCase(c, VITB32, 'clip', 1024 / div, 256 / div);
    else if (c === 'declip128') row = await trainCase(c, VITB32, 'declip', 128 / div, 0);
    else row = await zeroShotCase(256 / div);
  } catch (e) {
    console.log(`${c}: failed: ${(e as Error).message.split('\n')[0]}`);
    continue;
  }
  rows.push(row);
  console.log(
    `${row.case.padEnd(12)} batch ${String(row.batch).padStart(4)}${row.micro ? ` (micro ${row.micro})` : ''}: ` +
      `${row.ms.toFixed(1)} ms/step (min ${row.minMs.toFixed(1)}), ${row.perSec.toFixed(1)} ${row.unit}` +
      (row.loss !== undefined ? `, loss ${row.loss.toFixed(4)}` : '') +
      (row.gpuMiB ? `, GPU buffers ${row.gpuMiB.toFixed(0)} MiB` : '') +
      ` [${((performance.now() - t0) / 1000).toFixed(0)} s]`,
  );
}
if (info && flag('--profile')) await profileTinyStep();
const ours = {
  backend: info?.name ?? null,
  adapter: info?.adapter ?? null,
  nvidiaSmi: smi,
  load: os.loadavg()[0],
  rows,
};
shutdownBackend();

interface TorchRow {
  case: string;
  dtype: string;
  batch: number;
  ms: number;
  per_s: number;
}
let torch: { device: string; torch: string; rows: TorchRow[]; memory?: string } | null = null;
const torchJson = opt('--torch-json', '');
if (torchJson) torch = JSON.parse(readFileSync(torchJson, 'utf8'));
else if (!flag('--no-torch')) {
  const script = new URL('../reference/gpu_step_bench.py', import.meta.url).pathname;
  const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  try {
    const out = execFileSync(
      python,
      [
        ...[script, '--json', '--cases', cases.join(','), '--steps', String(steps), '--warmup', String(warmup)],
        ...['--batch-div', String(div)],
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 3_600_000 },
    );
    torch = JSON.parse(out.trim().split('\n').pop()!);
  } catch (e) {
    console.log(`PyTorch reference failed: ${String((e as Error).message).split('\n')[0]}`);
  }
}
console.log('');
console.log(
  `${'case'.padEnd(12)}${'batch'.padStart(6)}${'clip-bench'.padStart(14)}${'torch fp32'.padStart(14)}${'torch bf16'.padStart(14)}${'vs fp32'.padStart(9)}${'vs bf16'.padStart(9)}   unit`,
);
for (const c of cases) {
  const r = rows.find((x) => x.case === c);
  const t = (dtype: string) => torch?.rows.find((x) => x.case === c && x.dtype === dtype);
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1));
  const q = (x: number | undefined) => (x === undefined || !r ? '-' : `${(r.perSec / x).toFixed(2)}x`);
  const batch = r?.batch ?? t('fp32')?.batch ?? t('bf16')?.batch;
  console.log(
    `${c.padEnd(12)}${String(batch ?? '-').padStart(6)}${f(r?.perSec).padStart(14)}${f(t('fp32')?.per_s).padStart(14)}${f(t('bf16')?.per_s).padStart(14)}${q(t('fp32')?.per_s).padStart(9)}${q(t('bf16')?.per_s).padStart(9)}   ${c === 'zeroshot256' ? 'images/s' : 'samples/s'}`,
  );
}
if (torch) console.log(`PyTorch ${torch.torch} on ${torch.device}${torch.memory ? `; ${torch.memory}` : ''}`);
console.log(`load average ${os.loadavg()[0]!.toFixed(2)}`);
const jsonOut = opt('--json', '');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ ours, torch }, null, 2));
