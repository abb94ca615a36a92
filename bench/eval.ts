// Benchmark: images/s of evaluation, clip-bench (tfjs, wasm multi-threaded) vs PyTorch (reference/eval_bench.py) on this
// machine, same weights (a safetensors file this bench writes once into a temp dir; both sides read it) and same images.
//
//  zero-shot   the full zero-shot path of pipelines/zero-shot.ts on ../shared/data/cifar10-test (10,000 32x32 JPEGs):
//              class-folder reader -> decode + eval transform (stages/eval/eval-image-batches.ts) -> image tower -> cosine scores
//              against the prompt-ensemble classifier (built from the cifar10 prompts of
//              ../shared/data/zero-shot/classnames-and-templates.json, inside the timed run as the pipeline does).
//              Model: preset tiny (ViT 32px + text 2x64), vocab fixtures/demo/vocab.txt.gz, context 32, random init.
//  eval-view   the data pass alone (no model) at 224px over the first --view-images distinct images of
//              ../shared/data/flickr8k-1k: read + decode + eval transform (resize shorter side to 256, centre crop 224,
//              normalise) + batching, in the image worker pool; PyTorch: PIL + torchvision in a DataLoader.
//              Best of --repeats runs per side, interleaved.
//  vit-b32     the ViT-B/32 224px image tower (+ tiny text tower) on the first --vit-images distinct images of
//              ../shared/data/flickr8k-1k/captions.txt: decode + eval transform (resize shorter side to 256, centre crop
//              224: clip-bench's ONECROP eval preset) -> L2-normalised image embeddings (src/eval/image-features.ts).
//
// Each side, after one untimed warm-up forward of the image tower, runs two timed passes over the images: `data`
// (decode + transform + batching only, no model) and `full` (the real evaluation, data feeding the model), the latter
// split into classifier build, time spent waiting for the next batch (our side: files read on the main thread,
// decode + transform in the image worker pool), and model forward + scoring time. images/s = images / full seconds.
// PyTorch runs after tfjs, never concurrently, once per --torch-workers value (DataLoader worker processes;
// 0 = in-process) and --torch-threads value (torch.set_num_threads, default 2), PIL decode + torchvision transforms.
// PyTorch runs with OMP_WAIT_POLICY=PASSIVE unless the environment sets it: Debian's torch 1.13 (libgomp + OpenBLAS
// pthreads) with the default spinning policy and 2 threads measured here 596 vs 10,374 img/s (tiny ViT forward) and
// 7.2 vs 12.9 img/s (ViT-B/32 forward), i.e. the default would understate PyTorch.
// Run time on this 2-core box: zero-shot ~30 s, vit-b32 ~4 min (our ViT-B/32 forward is ~3 img/s; --vit-images 256
// halves it); run them separately with --only. Other load on the box skews both sides (the load average is printed).
//
// Usage: node bench/eval.ts [--only zero-shot|eval-view|vit-b32] [--batch-size 256] [--vit-images 512] [--vit-batch-size 32]
//                           [--view-images 1000] [--repeats 2]
//                           [--torch-workers 0,2] [--torch-threads 2] [--vit-torch-workers 2] [--vit-torch-threads 2]
//                           [--no-torch] [--backend wasm]
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, shutdownBackend, type BackendChoice } from '../src/backend.ts';
import { nativeBlasStatus } from '../src/kernels/native-blas.ts';
import { buildClipConfig, type ClipConfig } from '../src/models/presets.ts';
import { createClip } from '../src/models/clip.ts';
import { ParamStore } from '../src/nn/params.ts';
import { deriveRng } from '../src/rng.ts';
import { saveClipWeights } from '../src/weights/clip-weights.ts';
import { loadEvalModel } from '../src/eval/load-model.ts';
import { loadTokenizer } from '../src/tokenizer/clip-tokenizer.ts';
import { loadZeroShotPrompts } from '../src/eval/datasets/zero-shot-prompts.ts';
import { resolveDataset } from '../src/eval/dataset-spec.ts';
import { evaluateZeroShot, type LabelledBatch } from '../src/eval/zero-shot.ts';
import { l2Normalize } from '../src/nn/l2-normalize.ts';
import { encodeImageFeatures } from '../src/eval/image-features.ts';
import { openaiClipStats } from '../src/image/presets.ts';
import type { ClassificationItem, EvalImage } from '../src/eval/datasets/types.ts';
import type { ClipModel } from '../src/models/clip.ts';
import { createContext, runStages, drain } from '../stages/core/stage.ts';
import { evalImageBatches, type EvalImageBatch } from '../stages/eval/eval-image-batches.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    'batch-size': { type: 'string', default: '256' },
    'vit-images': { type: 'string', default: '512' },
    'view-images': { type: 'string', default: '1000' },
    repeats: { type: 'string', default: '2' },
    'vit-batch-size': { type: 'string', default: '32' },
    'torch-workers': { type: 'string', default: '0,2' },
    'vit-torch-workers': { type: 'string', default: '2' },
    'torch-threads': { type: 'string', default: '2' },
    'vit-torch-threads': { type: 'string', default: '2' },
    'no-torch': { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
  },
  strict: true,
});
const int = (name: string): number => {
  const n = Number(args[name as keyof typeof args]);
  if (!(Number.isInteger(n) && n > 0))
    throw new Error(`--${name} must be a positive integer, got ${args[name as keyof typeof args]}`);
  return n;
};
const scenarioNames = ['zero-shot', 'eval-view', 'vit-b32'];
if (args.only !== undefined && !scenarioNames.includes(args.only))
  throw new Error(`--only must be one of ${scenarioNames.join(', ')}, got ${args.only}`);
const batchSize = int('batch-size'),
  vitImages = int('vit-images'),
  vitBatchSize = int('vit-batch-size'),
  viewImages = int('view-images'),
  repeats = int('repeats');
function intList(
  name: 'torch-workers' | 'vit-torch-workers' | 'torch-threads' | 'vit-torch-threads',
  min: number,
): number[] {
  const list = String(args[name])
    .split(',')
    .map((w) => Number(w));
  if (list.some((w) => !(Number.isInteger(w) && w >= min)))
    throw new Error(`--${name} must be a comma list of integers >= ${min}, got ${args[name]}`);
  return list;
}
/** PyTorch configurations to run: every (threads, DataLoader workers) pair. */
type TorchConfig = { threads: number; workers: number };
const configs = (threads: number[], workers: number[]): TorchConfig[] =>
  threads.flatMap((t) => workers.map((w) => ({ threads: t, workers: w })));
const zeroShotTorch = configs(intList('torch-threads', 1), intList('torch-workers', 0));
const vitTorch = configs(intList('vit-torch-threads', 1), intList('vit-torch-workers', 0));

const shared = new URL('../../shared/data/', import.meta.url).pathname;
const cifarRoot = join(shared, 'cifar10-test');
const promptsFile = join(shared, 'zero-shot', 'classnames-and-templates.json');
const flickrDir = join(shared, 'flickr8k-1k');
const vocab = new URL('../fixtures/demo/vocab.txt.gz', import.meta.url).pathname;
const python = '/usr/bin/python3';
const script = new URL('../reference/eval_bench.py', import.meta.url).pathname;
const CONTEXT = 32;

interface Timings {
  images: number;
  load_s: number;
  data_s: number;
  full_s: number;
  wait_s: number;
  model_s: number;
  classifier_s?: number;
  /** process CPU seconds of the full pass, all threads (PyTorch: with its DataLoader worker processes) */
  cpu_s?: number;
  acc1?: number;
}
interface TorchTimings extends Timings {
  workers: number;
  threads: number;
  torch: string;
}
interface Scenario {
  name: string;
  ours: Timings;
  torch: TorchTimings[];
  torchNote?: string;
  agreement?: string;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Random-init weights for a preset pair, written once with OpenAI names (both sides load this file). */
async function writeWeights(path: string, config: ClipConfig, seed: string): Promise<void> {
  const model = createClip(config, new ParamStore(), deriveRng('bench-eval', seed));
  await saveClipWeights(model, path);
  model.dispose();
}

/** One untimed forward so XNNPACK operator creation and first allocations are not in the timings (torch does the same). */
function warmUp(model: ClipModel, n: number): void {
  const s = model.config.vision.imageSize;
  tf.tidy(() =>
    l2Normalize(model.encodeImage(tf.zeros([n, s, s, 3]) as tf.Tensor4D, { training: false }).embedding).dataSync(),
  );
}

/** The data pass: decode + eval transform + batching, no model. */
async function dataPass(
  items: AsyncIterable<{ image: EvalImage }> | Iterable<{ image: EvalImage }>,
  size: number,
  batch: number,
): Promise<number> {
  const t0 = performance.now();
  await runStages(
    createContext(),
    items,
    [evalImageBatches({ size, stats: openaiClipStats, batchSize: batch })],
    drain(),
  );
  return seconds(t0);
}

/** Pass batches through, timing every wait for the next one; `firstPull` marks when the consumer first asked. */
interface PullClock {
  wait: number;
  firstPull?: number;
}
async function* timedPulls<T>(source: AsyncIterable<T>, clock: PullClock): AsyncIterable<T> {
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    const t = performance.now();
    clock.firstPull ??= t;
    const next = await it.next();
    clock.wait += performance.now() - t;
    if (next.done) return;
    yield next.value;
  }
}

/** Timings of a full pass from its start, the pull clock and the image count (model = the rest). */
/** CPU seconds (all threads of this process) since `since` (a process.cpuUsage() value). */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
}

function splitFull(
  cpu0: NodeJS.CpuUsage,
  t0: number,
  clock: PullClock,
  images: number,
  withClassifier: boolean,
): Pick<Timings, 'full_s' | 'wait_s' | 'model_s' | 'classifier_s' | 'images' | 'cpu_s'> {
  const full_s = seconds(t0);
  const cpu_s = cpuSeconds(cpu0);
  const classifier_s = withClassifier ? ((clock.firstPull ?? t0) - t0) / 1000 : undefined;
  const wait_s = clock.wait / 1000;
  return { images, full_s, wait_s, model_s: full_s - wait_s - (classifier_s ?? 0), classifier_s, cpu_s };
}

const torchEnv = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };

function runTorch(torchConfigs: TorchConfig[], extra: string[]): { results: TorchTimings[]; note?: string } {
  if (args['no-torch']) return { results: [], note: 'PyTorch skipped (--no-torch)' };
  if (!existsSync(python)) return { results: [], note: `${python} not found` };
  const results: TorchTimings[] = [];
  for (const { threads, workers } of torchConfigs) {
    const r = spawnSync(
      python,
      [script, '--json', '--threads', String(threads), '--workers', String(workers), ...extra],
      { encoding: 'utf8', maxBuffer: 1 << 26, env: torchEnv },
    );
    if (r.status !== 0)
      return {
        results,
        note: `PyTorch reference failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
      };
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchTimings);
  }
  return { results };
}

async function zeroShotScenario(dir: string): Promise<Scenario> {
  const tokenizer = await loadTokenizer({ vocabPath: vocab, contextLength: CONTEXT });
  const weights = join(dir, 'tiny-vit-cifar.safetensors');
  await writeWeights(
    weights,
    buildClipConfig('tiny', { text: { vocabSize: tokenizer.vocabSize, contextLength: CONTEXT } }),
    'tiny',
  );

  let t0 = performance.now();
  const { model } = await loadEvalModel({ weights, vocab });
  const load_s = seconds(t0);
  try {
    const prompts = await loadZeroShotPrompts(promptsFile, 'cifar10');
    const source = await resolveDataset(cifarRoot, {
      name: 'cifar10',
      task: 'classification',
      classes: prompts.classes,
    });
    if (source.kind !== 'classification') throw new Error(`${cifarRoot}: expected a class-folder dataset`);
    const dataset = source.dataset;
    const size = model.config.vision.imageSize;
    warmUp(model, batchSize);
    const data_s = await dataPass(dataset.items(), size, batchSize);

    // the full pass: exactly pipelines/zero-shot.ts's stages (minus the progress bar and the result file)
    const clock: PullClock = { wait: 0 };
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    const result = (await runStages(
      createContext(),
      dataset.items(),
      [evalImageBatches({ size, stats: openaiClipStats, batchSize })],
      (batches: AsyncIterable<EvalImageBatch<{ label: number }>>) =>
        evaluateZeroShot({
          model,
          tokenizer,
          classes: prompts.classes,
          templates: prompts.templates,
          batches: timedPulls(batches, clock),
        }),
    ))!;
    const ours: Timings = {
      load_s,
      data_s,
      ...splitFull(cpu0, t0, clock, result.labels.length, true),
      acc1: result.metrics.acc1,
    };

    const predictionsFile = join(dir, 'torch-predictions.json');
    const torch = runTorch(zeroShotTorch, [
      '--weights',
      weights,
      '--mode',
      'zero-shot',
      '--root',
      cifarRoot,
      '--prompts',
      promptsFile,
      '--dataset',
      'cifar10',
      '--vocab',
      vocab,
      '--batch-size',
      String(batchSize),
      '--predictions-out',
      predictionsFile,
    ]);
    let agreement: string | undefined;
    if (existsSync(predictionsFile)) {
      const theirs = JSON.parse(readFileSync(predictionsFile, 'utf8')) as number[];
      let same = 0,
        ties = 0;
      for (let i = 0; i < theirs.length; i++) {
        if (theirs[i] === result.predictions[i]) same++;
        else if (result.margins[i] < 1e-5) ties++;
      }
      agreement =
        `same model on both sides: top-1 predictions identical on ${same}/${theirs.length} images` +
        (theirs.length - same > 0
          ? ` (${ties} of the ${theirs.length - same} differences have a top-1/top-2 margin < 1e-5 on our side)`
          : '');
    }
    return {
      name: `zero-shot cifar10-test, tiny (ViT 32px + text 2x64) (${ours.images} images, batch ${batchSize})`,
      ours,
      torch: torch.results,
      torchNote: torch.note,
      agreement,
    };
  } finally {
    model.dispose();
  }
}

async function vitScenario(dir: string): Promise<Scenario> {
  const tokenizer = await loadTokenizer({ vocabPath: vocab, contextLength: CONTEXT });
  const weights = join(dir, 'vit-b32.safetensors');
  await writeWeights(
    weights,
    buildClipConfig('vit-b32', { text: { vocabSize: tokenizer.vocabSize, contextLength: CONTEXT } }),
    'vit-b32',
  );

  const lines = readFileSync(join(flickrDir, 'captions.txt'), 'utf8').trim().split('\n').slice(1);
  const names = [...new Set(lines.map((l) => l.slice(0, l.indexOf(','))))].slice(0, vitImages);
  if (names.length < vitImages) throw new Error(`${flickrDir}: only ${names.length} images, --vit-images ${vitImages}`);
  const files = names.map((n) => join(flickrDir, 'images', n));
  const listFile = join(dir, 'vit-images.txt');
  writeFileSync(listFile, files.join('\n') + '\n');
  async function* items(): AsyncIterable<ClassificationItem> {
    for (const f of files)
      yield { key: f, label: 0, image: { kind: 'encoded', bytes: new Uint8Array(await readFile(f)) } };
  }

  let t0 = performance.now();
  const { model } = await loadEvalModel({ weights, vocab });
  const load_s = seconds(t0);
  try {
    const size = model.config.vision.imageSize;
    warmUp(model, vitBatchSize);
    const data_s = await dataPass(items(), size, vitBatchSize);
    const clock: PullClock = { wait: 0 };
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    const features = await runStages(
      createContext(),
      items(),
      [evalImageBatches({ size, stats: openaiClipStats, batchSize: vitBatchSize })],
      (batches: AsyncIterable<LabelledBatch>) => encodeImageFeatures(model, timedPulls(batches, clock)),
    );
    const ours: Timings = { load_s, data_s, ...splitFull(cpu0, t0, clock, features.n, false) };
    const torch = runTorch(vitTorch, [
      '--weights',
      weights,
      '--mode',
      'image-tower',
      '--files',
      listFile,
      '--batch-size',
      String(vitBatchSize),
    ]);
    return {
      name: `ViT-B/32 224px image tower (L2-normalised embeddings), flickr8k-1k (${ours.images} images, batch ${vitBatchSize})`,
      ours,
      torch: torch.results,
      torchNote: torch.note,
    };
  } finally {
    model.dispose();
  }
}

/** The first n distinct images of the Flickr caption table. */
function flickrFiles(n: number): string[] {
  const lines = readFileSync(join(flickrDir, 'captions.txt'), 'utf8').trim().split('\n').slice(1);
  const names = [...new Set(lines.map((l) => l.slice(0, l.indexOf(','))))].slice(0, n);
  if (names.length < n) throw new Error(`${flickrDir}: only ${names.length} images, ${n} asked for`);
  return names.map((name) => join(flickrDir, 'images', name));
}

/** The eval view's throughput (data pass alone, 224px) on both sides, best of `repeats`, runs interleaved. */
async function evalViewScenario(dir: string): Promise<void> {
  const files = flickrFiles(viewImages);
  const listFile = join(dir, 'view-images.txt');
  writeFileSync(listFile, files.join('\n') + '\n');
  const items = (): Iterable<ClassificationItem> =>
    files.map((f) => ({ key: f, label: 0, source: f, image: { kind: 'file', path: f } }) as ClassificationItem);
  const ours: number[] = [];
  const torch = new Map<string, number[]>();
  let note: string | undefined;
  const cpu0 = process.cpuUsage();
  let oursWall = 0;
  for (let r = 0; r < repeats; r++) {
    const s = await dataPass(items(), 224, vitBatchSize);
    oursWall += s;
    ours.push(files.length / s);
    for (const { threads, workers } of vitTorch) {
      const t = runTorch(
        [{ threads, workers }],
        ['--mode', 'data', '--files', listFile, '--size', '224', '--batch-size', String(vitBatchSize)],
      );
      note ??= t.note;
      for (const x of t.results) {
        const key = `torch t${x.threads} w${x.workers}`;
        torch.set(key, [...(torch.get(key) ?? []), x.images / x.data_s]);
      }
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const best = (xs: number[]) => Math.max(...xs);
  console.log(`\n== eval view, data pass alone: ${files.length} flickr8k-1k images -> 224px (best of ${repeats})`);
  console.log(
    `clip-bench (image worker pool)`.padEnd(34) +
      `${best(ours).toFixed(0).padStart(6)} images/s  (runs: ${ours.map((x) => x.toFixed(0)).join(', ')}; ${((cpu.user + cpu.system) / 1e6 / oursWall).toFixed(2)} cores incl. the main thread)`,
  );
  for (const [key, xs] of torch)
    console.log(
      `${key} (PIL, DataLoader)`.padEnd(34) +
        `${best(xs).toFixed(0).padStart(6)} images/s  (runs: ${xs.map((x) => x.toFixed(0)).join(', ')}); ratio clip-bench/torch ${(best(ours) / best(xs)).toFixed(2)}x`,
    );
  if (note) console.log(note);
}

function report(s: Scenario): void {
  const cols = [
    ['clip-bench', s.ours] as const,
    ...s.torch.map((t) => [`torch t${t.threads} w${t.workers}`, t] as const),
  ];
  const cell = (v: string) => v.padStart(13);
  const rate = (n: number, secs: number) => {
    const r = n / secs;
    return r >= 100 ? r.toFixed(0) : r.toFixed(2);
  };
  console.log(`\n== ${s.name}`);
  console.log('pass'.padEnd(40) + cols.map(([n]) => cell(n)).join(''));
  const row = (label: string, f: (t: Timings) => string) =>
    console.log(label.padEnd(40) + cols.map(([, t]) => cell(f(t))).join(''));
  row('load weights (s)', (t) => t.load_s.toFixed(2));
  row('data pass alone: decode+transform img/s', (t) => rate(t.images, t.data_s));
  row('FULL EVALUATION img/s', (t) => rate(t.images, t.full_s));
  row('  full evaluation (s)', (t) => t.full_s.toFixed(2));
  if (s.ours.classifier_s !== undefined)
    row('  of which: build classifier (s)', (t) => t.classifier_s?.toFixed(2) ?? '-');
  row('  of which: waiting for data (s)', (t) => t.wait_s.toFixed(2));
  row('  of which: model forward+score (s)', (t) => t.model_s.toFixed(2));
  row('  model img/s (images / model s)', (t) => rate(t.images, t.model_s));
  row('  CPU s, full evaluation (all threads)', (t) => t.cpu_s?.toFixed(2) ?? '-');
  if (s.ours.acc1 !== undefined) row('acc1 (random weights)', (t) => t.acc1?.toFixed(4) ?? '-');
  for (const t of s.torch) {
    console.log(
      `ratio clip-bench/torch t${t.threads} w${t.workers} images/s (>1: clip-bench faster): FULL ${(t.full_s / s.ours.full_s).toFixed(2)}x, ` +
        `data pass ${(t.data_s / s.ours.data_s).toFixed(2)}x, model ${(t.model_s / s.ours.model_s).toFixed(2)}x` +
        (t.cpu_s && s.ours.cpu_s
          ? `, CPU time ${(t.cpu_s / s.ours.cpu_s).toFixed(2)}x (>1: clip-bench uses less)`
          : ''),
    );
  }
  if (s.agreement) console.log(s.agreement);
  if (s.torchNote) console.log(s.torchNote);
}

const info = await initBackend({ backend: args.backend as BackendChoice });
const loadBefore = os.loadavg()[0];
const dir = mkdtempSync(join(os.tmpdir(), 'clip-bench-eval-'));
const scenarios: Scenario[] = [];
try {
  if (args.only === undefined || args.only === 'zero-shot') scenarios.push(await zeroShotScenario(dir));
  if (args.only === undefined || args.only === 'eval-view') await evalViewScenario(dir);
  if (args.only === undefined || args.only === 'vit-b32') scenarios.push(await vitScenario(dir));
} finally {
  rmSync(dir, { recursive: true, force: true });
  shutdownBackend();
}
const torchInfo = scenarios.flatMap((s) => s.torch)[0];
console.log(
  `\nclip-bench: tfjs ${tf.version.tfjs} on ${info.name} (${info.threads} threads${info.name === 'wasm' ? `; ${nativeBlasStatus().reason}` : ''}), decode + eval transform in the image worker pool ` +
    `(stages/eval/eval-image-batches.ts); PyTorch ${torchInfo?.torch ?? '-'} (OMP_WAIT_POLICY=${torchEnv.OMP_WAIT_POLICY}), PIL + torchvision; torch tT wW = ` +
    `torch.set_num_threads(T), DataLoader with W worker processes (w0: in-process). ${os.cpus().length} cores; 1-min load average ${loadBefore.toFixed(2)} at start, ` +
    `${os.loadavg()[0].toFixed(2)} at end.`,
);
for (const s of scenarios) report(s);
