// Benchmark: one training step (features + loss + gradients of every trainable parameter; no optimiser update) of each
// supervision on the tiny CLIP preset (ViT 32 px + text 2x64, context 77) at batch 64, relative to CLIP, next to
// the same methods in PyTorch (reference/supervision_bench.py: Debian python3-torch, 2 threads) on this machine.
// Reports the median step time, the tfjs peak bytes of the step (tf.profile().peakBytes) and the process peak RSS;
// each method runs in its own child process so peak RSS is per method. The paper: a DeCLIP step ≈ 1.5× a CLIP step
// (at ViT-B/32 scale, where the heads and the queue are small next to the towers).
//
// Heads: `--heads tiny` (default) scales the seed's head widths by the tiny/ViT-B/32 width ratio (1/8): SimSiam
// projector 128, predictor 64, SLIP MLP 512-512-32, FILIP dense 32; `--heads seed` keeps the seed's sizes
// (1024/512, 4096-4096-256, 256). The NN queue keeps the seed's 65,536 entries and FILIP top-k 16 in both.
//
// Timing under load: every method runs in `--rounds` separate child processes (the methods interleaved), and the
// table reports the MINIMUM step time over all repetitions (the least sensitive to other jobs on the box; the median
// is printed too). Peak bytes / RSS are the maxima over rounds.
//
// Usage: node bench/supervision.ts [--batch 64] [--reps 5] [--rounds 2] [--backend auto|wasm|cpu] [--heads tiny|seed]
//                                  [--methods clip,declip,...] [--no-torch]
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import type { BackendChoice } from '../src/backend.ts';
import { Rng } from '../src/rng.ts';
import { ParamStore } from '../src/nn/params.ts';
import { createClip } from '../src/models/clip.ts';
import { buildClipConfig } from '../src/models/presets.ts';
import { createSupervision, supervisionNames } from '../src/supervision/index.ts';
import type { TrainBatch } from '../src/supervision/types.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const batchSize = Number(opt('--batch', '64'));
const reps = Number(opt('--reps', '5'));
const rounds = Number(opt('--rounds', '2'));
const backend = opt('--backend', 'auto') as BackendChoice;
const heads = opt('--heads', 'tiny');
const methods = opt('--methods', supervisionNames.join(',')).split(',');
const CONTEXT = 77;
const VOCAB = 49409; // DeCLIP's vocabulary (with <|mask|>): MASK 49406, SOT 49407, EOT 49408
if (!['tiny', 'seed'].includes(heads)) throw new Error(`--heads must be tiny or seed, got ${heads}`);
for (const m of methods)
  if (!supervisionNames.includes(m as never))
    throw new Error(`unknown method ${m} (known: ${supervisionNames.join(', ')})`);

const tinyHeadOptions: Record<string, Record<string, unknown>> = {
  clip: {},
  declip: { projectorHidden: 128, projectorOut: 128, predictorHidden: 64 },
  slip: { mlpHidden: 512, mlpOut: 32 },
  filip: { denseDim: 32 },
  defilip: { projectorHidden: 128, projectorOut: 128, predictorHidden: 64, denseDim: 32 },
};

interface Result {
  method: string;
  stepMs: number;
  allMs: number[];
  peakBytes: number;
  maxRssMB: number;
  params: number;
  backend: string;
  threads: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Random ids shaped like tokenizer output (SOT, words, EOT, padding) and MLM labels on ~15% of the words. */
function randomBatch(rng: Rng, views: number, size: number): TrainBatch {
  const ids = () => {
    const a = new Int32Array(batchSize * CONTEXT);
    for (let b = 0; b < batchSize; b++) {
      const len = 5 + rng.int(15);
      a[b * CONTEXT] = VOCAB - 2;
      for (let t = 1; t < len; t++) a[b * CONTEXT + t] = rng.int(VOCAB - 3);
      a[b * CONTEXT + len] = VOCAB - 1;
    }
    return a;
  };
  const raw = ids();
  const labels = new Int32Array(raw.length).fill(-100);
  for (let i = 0; i < raw.length; i++)
    if (raw[i] !== 0 && raw[i] < VOCAB - 3 && rng.bernoulli(0.15)) labels[i] = raw[i];
  const t2 = (a: Int32Array) => tf.tensor2d(a, [batchSize, CONTEXT], 'int32');
  const images = Array.from({ length: views }, () =>
    tf.tensor4d(
      Float32Array.from({ length: batchSize * size * size * 3 }, () => rng.normal()),
      [batchSize, size, size, 3],
    ),
  );
  return { images, texts: { raw: t2(raw), eda: t2(ids()), mlm: t2(raw), mlmLabels: t2(labels) } };
}

async function child(method: string): Promise<void> {
  const info = await initBackend({ backend, quiet: true });
  const config = buildClipConfig('tiny', { text: { vocabSize: VOCAB, contextLength: CONTEXT } });
  const model = createClip(config, new ParamStore(), new Rng(1));
  const sup = createSupervision(method, heads === 'tiny' ? tinyHeadOptions[method] : {});
  sup.addHeads(model, new Rng(2));
  const batch = randomBatch(new Rng(3), sup.imageViews.length, config.vision.imageSize);
  const vars = model.store.trainableVariables();
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () => sup.loss(sup.features(model, batch, { training: true }), model).total,
      vars,
    );
    value.dataSync();
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  };
  step(); // warm-up
  const allMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    step();
    allMs.push(performance.now() - t0);
  }
  const prof = await tf.profile(() => {
    step();
  });
  const result: Result = {
    method,
    stepMs: median(allMs),
    allMs,
    peakBytes: prof.peakBytes,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    params: model.store.countValues(true),
    backend: info.name,
    threads: info.threads,
  };
  console.log('RESULT ' + JSON.stringify(result));
  sup.dispose();
  model.dispose();
  shutdownBackend();
}

interface TorchResult {
  method: string;
  step_ms: number;
  all_ms: number[];
  max_rss_mb: number;
  params: number;
  torch: string;
  threads: number;
}

function runTorch(method: string): TorchResult | string {
  const python = '/usr/bin/python3';
  const script = fileURLToPath(new URL('../reference/supervision_bench.py', import.meta.url));
  if (!existsSync(python)) return 'no /usr/bin/python3';
  try {
    const out = execFileSync(
      python,
      [script, '--method', method, '--batch', String(batchSize), '--reps', String(reps), '--heads', heads, '--json'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as TorchResult;
  } catch (e) {
    return `PyTorch reference failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

async function main(): Promise<void> {
  const childMethod = opt('--child', '');
  if (childMethod) return child(childMethod);
  const self = fileURLToPath(import.meta.url);
  const childArgs = args.filter((a, i) => a !== '--methods' && args[i - 1] !== '--methods');
  const oursRuns = new Map<string, Result[]>();
  const torchRuns = new Map<string, TorchResult[]>();
  let torchNote = flag('--no-torch') ? 'skipped (--no-torch)' : '';
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? methods : [...methods].reverse();
    for (const m of order) {
      const out = execFileSync(process.execPath, [self, '--child', m, ...childArgs], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`child ${m} printed no result`);
      oursRuns.set(m, [...(oursRuns.get(m) ?? []), JSON.parse(line.slice(7)) as Result]);
      if (flag('--no-torch') || torchNote.startsWith('no ') || torchNote.startsWith('PyTorch reference failed'))
        continue;
      const r = runTorch(m);
      if (typeof r === 'string') {
        torchNote = r;
        continue;
      }
      torchRuns.set(m, [...(torchRuns.get(m) ?? []), r]);
      torchNote = `PyTorch ${r.torch}, ${r.threads} threads`;
    }
  }
  const ours: Result[] = methods.map((m) => {
    const rs = oursRuns.get(m)!;
    const all = rs.flatMap((r) => r.allMs);
    return {
      ...rs[0]!,
      allMs: all,
      stepMs: Math.min(...all),
      peakBytes: Math.max(...rs.map((r) => r.peakBytes)),
      maxRssMB: Math.max(...rs.map((r) => r.maxRssMB)),
    };
  });
  const torch: Record<string, TorchResult> = {};
  for (const [m, rs] of torchRuns) {
    const all = rs.flatMap((r) => r.all_ms);
    torch[m] = {
      ...rs[0]!,
      all_ms: all,
      step_ms: Math.min(...all),
      max_rss_mb: Math.max(...rs.map((r) => r.max_rss_mb)),
    };
  }
  const base = ours.find((r) => r.method === 'clip');
  const tbase = torch.clip;
  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) + 'x' : '-');
  const mb = (b: number) => (b / 2 ** 20).toFixed(0);
  console.log(
    `supervision step benchmark: tiny CLIP (ViT 32px + text 2x64 ctx ${CONTEXT}), batch ${batchSize}, ` +
      `heads '${heads}', min (median) of ${rounds}x${reps} steps; ${os.cpus().length} cores, ` +
      `load average ${os.loadavg()[0]!.toFixed(1)}; tfjs ${ours[0]?.backend} x${ours[0]?.threads}; ${torchNote}`,
  );
  const header = [
    'method',
    'params',
    'ours ms',
    '(median)',
    'vs CLIP',
    'tf peak MB',
    'vs CLIP',
    'RSS MB',
    'torch ms',
    'vs CLIP',
    'torch RSS MB',
    'ours/torch',
  ];
  const rows = ours.map((r) => {
    const t = torch[r.method];
    return [
      r.method,
      (r.params / 1e6).toFixed(2) + 'M',
      r.stepMs.toFixed(0),
      `(${median(r.allMs).toFixed(0)})`,
      ratio(r.stepMs, base?.stepMs),
      mb(r.peakBytes),
      ratio(r.peakBytes, base?.peakBytes),
      r.maxRssMB.toFixed(0),
      t ? t.step_ms.toFixed(0) : '-',
      t ? ratio(t.step_ms, tbase?.step_ms) : '-',
      t ? t.max_rss_mb.toFixed(0) : '-',
      t ? ratio(r.stepMs, t.step_ms) : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(fmt(header));
  for (const r of rows) console.log(fmt(r));
}

await main();
