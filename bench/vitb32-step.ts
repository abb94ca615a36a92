// Profile of one CLIP training step of a model preset (default vit-b32: ViT-B/32 + text 12x512, the product default) on the
// chosen backend: times construction, forward, forward+backward (tf.variableGrads), the AdamW update (native and
// JavaScript loop when the BLAS addon is on) and the whole Trainer step separately, lists the top kernels by time (tf.profile) and the peak tensor bytes, and prints RSS.
//
// Usage: node bench/vitb32-step.ts [--model vit-b32] [--text-layers 12] [--batch 8] [--backend wasm] [--threads 2]
//                                  [--steps 2] [--no-profile]
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import type { BackendChoice } from '../src/backend.ts';
import { Rng, deriveRng } from '../src/rng.ts';
import { ParamStore } from '../src/nn/params.ts';
import { createClip } from '../src/models/clip.ts';
import type { ClipModel } from '../src/models/clip.ts';
import { buildClipConfig } from '../src/models/presets.ts';
import { createSupervision } from '../src/supervision/index.ts';
import { Trainer } from '../src/train/trainer.ts';
import { variableGradsFrugal } from '../src/train/backprop.ts';
import type { TrainBatch } from '../src/train/contracts.ts';
import { nativeBlasStatus, setNativeBlas } from '../src/kernels/native-blas.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const preset = opt('--model', 'vit-b32'),
  textLayers = opt('--text-layers', '');
const B = Number(opt('--batch', '8')),
  steps = Number(opt('--steps', '2'));
const EOT = 49407;
// --cpu-prof-after S --cpu-prof-for T: sample the main thread's JS stack (a worker on the inspector) S seconds in, for T
// seconds, and print the hottest functions (works while the main thread is busy).
if (args.includes('--cpu-prof-after')) {
  const { Worker } = await import('node:worker_threads');
  new Worker(new URL(opt('--cpu-prof-worker', '/tmp/prof-worker.mjs'), 'file:///'), {
    workerData: {
      delay: Number(opt('--cpu-prof-after', '0')),
      seconds: Number(opt('--cpu-prof-for', '30')),
      out: '/tmp/vitb32.cpuprofile',
    },
  }).unref();
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
/** Size of the wasm heap (linear memory), MB; 0 on other backends. */
const heapMb = (): number => {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return b.wasm ? Math.round(b.wasm.HEAPU8.length / 2 ** 20) : 0;
};
const rss = () => mb(process.memoryUsage().rss);
function timed<T>(label: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  console.log(
    `${label.padEnd(28)} ${(performance.now() - t0).toFixed(0).padStart(8)} ms   rss ${rss()}   tensors ${tf.memory().numTensors} (${mb(tf.memory().numBytes)})   wasm heap ${heapMb()} MB`,
  );
  return r;
}

const info = await initBackend({
  backend: opt('--backend', 'wasm') as BackendChoice,
  threads: Number(opt('--threads', '2')),
  quiet: true,
});
// --slow-kernels MS: wrap every kernel of the backend and print (synchronously) each call slower than MS ms, live
if (args.includes('--slow-kernels')) {
  const limit = Number(opt('--slow-kernels', '500'));
  const { writeSync } = await import('node:fs');
  const trace = args.includes('--trace-kernels')
    ? (await import('node:fs')).openSync(opt('--trace-kernels', '/tmp/kernels.trace'), 'w')
    : undefined;
  const tally = new Map<string, { ms: number; n: number }>();
  let last = performance.now(),
    inKernels = 0;
  for (const k of tf.getKernelsForBackend(info.name)) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, k.backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (a) => {
        if (trace !== undefined)
          writeSync(
            trace,
            `${heapMb()} ${k.kernelName} ${Object.values(a.inputs)
              .map((t) => `[${(t as tf.TensorInfo).shape}]`)
              .join(' ')}\n`,
          );
        const t0 = performance.now();
        const r = inner(a);
        const now = performance.now(),
          ms = now - t0;
        const e = tally.get(k.kernelName) ?? { ms: 0, n: 0 };
        e.ms += ms;
        e.n++;
        tally.set(k.kernelName, e);
        inKernels += ms;
        if (now - last > 10000) {
          const top = [...tally]
            .sort((x, y) => y[1].ms - x[1].ms)
            .slice(0, 6)
            .map(([n, v]) => `${n} ${v.ms.toFixed(0)}ms/${v.n}`)
            .join(', ');
          writeSync(
            2,
            `[10s window] wall ${(now - last).toFixed(0)} ms, in kernels ${inKernels.toFixed(0)} ms: ${top}  rss ${rss()}\n`,
          );
          tally.clear();
          last = now;
          inKernels = 0;
        }
        if (ms > limit) {
          const shapes = Object.entries(a.inputs)
            .map(([n, t]) => `${n}[${(t as tf.TensorInfo).shape}]`)
            .join(' ');
          writeSync(
            2,
            `slow kernel ${k.kernelName} ${ms.toFixed(0)} ms ${shapes} ${JSON.stringify(a.attrs)}  rss ${rss()}\n`,
          );
        }
        return r;
      },
    });
  }
}
const config = buildClipConfig(preset, textLayers ? { text: { layers: Number(textLayers) } } : {});
console.log(
  `backend ${info.name} threads ${info.threads}; ${preset} (text ${config.text.layers}x${config.text.width}), batch ${B}`,
);
const store = new ParamStore();
const model = timed('construct + init', () => createClip(config, store, deriveRng(1, 'model')));
const supervision = createSupervision('clip');
supervision.addHeads(model, deriveRng(1, 'heads'));
console.log(`params ${store.trainableEntries().reduce((s, e) => s + e.variable.size, 0)}`);

const rng = new Rng(7);
const s = config.vision.imageSize,
  ctx = config.text.contextLength;
function makeBatch(): TrainBatch {
  const px = new Float32Array(B * s * s * 3);
  for (let i = 0; i < px.length; i++) px[i] = rng.normal();
  const ids = new Int32Array(B * ctx);
  for (let b = 0; b < B; b++) {
    const len = 5 + rng.int(15);
    ids[b * ctx] = EOT - 1;
    for (let t = 1; t < len; t++) ids[b * ctx + t] = 1 + rng.int(EOT - 3);
    ids[b * ctx + len] = EOT;
  }
  return { images: [tf.tensor4d(px, [B, s, s, 3])], texts: { raw: tf.tensor2d(ids, [B, ctx], 'int32') } };
}
const batch = makeBatch();
// --stock-grads: tf.variableGrads instead of the trainer's variableGradsFrugal
const grad = args.includes('--stock-grads') ? tf.variableGrads : variableGradsFrugal;
const sup = supervision;
const vars = store.trainableEntries().map((e) => e.variable);

timed('forward (no grad)', () =>
  tf.tidy(() => {
    const f = sup.features(model, batch, { training: true });
    sup.loss(f, model).total.dataSync();
  }),
);
timed('forward (no grad) again', () =>
  tf.tidy(() => {
    const f = sup.features(model, batch, { training: true });
    sup.loss(f, model).total.dataSync();
  }),
);
const grads = timed(`${args.includes('--stock-grads') ? 'tf.variableGrads' : 'variableGradsFrugal'} (fwd+bwd)`, () => {
  const { value, grads } = grad(
    () => tf.tidy(() => sup.loss(sup.features(model, batch, { training: true }), model).total),
    vars,
  );
  value.dataSync();
  value.dispose();
  for (const g of Object.values(grads)) g.dataSync().length;
  return grads;
});
for (const g of Object.values(grads)) g.dispose();

const trainer = new Trainer<ClipModel>(model, sup, {
  schedule: { baseLr: 1e-4, peakLr: 1e-3, warmupSteps: 10, totalSteps: 100, minLr: 0 },
  adamw: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 },
  microBatchSize: B,
  nanPolicy: 'stop',
});
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  const r = await trainer.trainStep(batch);
  console.log(
    `${`trainer step ${i + 1}`.padEnd(28)} ${(performance.now() - t0).toFixed(0).padStart(8)} ms   rss ${rss()}   tensors ${tf.memory().numTensors} (${mb(tf.memory().numBytes)})   wasm heap ${heapMb()} MB`,
  );
  console.log(`  loss ${r.loss.toFixed(4)} gradNorm ${r.gradNorm.toFixed(3)}`);
}
// optimizer alone: fake gradients of ones
{
  const fake = Object.fromEntries(store.trainableEntries().map((e) => [e.name, tf.onesLike(e.variable)]));
  // on a host backend with the native BLAS addon on, the update runs there; the JavaScript loop is timed after it
  const paths = nativeBlasStatus().active && trainer.optimizer.placement === 'host' ? [true, false] : [undefined];
  for (const native of paths) {
    if (native !== undefined) setNativeBlas(native);
    timed(`AdamW.apply alone${native === undefined ? '' : native ? ' (native)' : ' (JS loop)'}`, () => {
      trainer.optimizer.apply(fake, 1e-4);
      vars[0]!.dataSync();
    });
  }
  if (paths.length > 1) setNativeBlas(true);
  for (const t of Object.values(fake)) t.dispose();
}

if (!args.includes('--no-profile')) {
  const prof = await tf.profile(() => {
    const { value, grads } = grad(
      () => tf.tidy(() => sup.loss(sup.features(model, batch, { training: true }), model).total),
      vars,
    );
    value.dataSync();
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
  });
  const byKernel = new Map<string, { ms: number; n: number; bytes: number }>();
  for (const k of prof.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, n: 0, bytes: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.n++;
    e.bytes += k.totalBytesSnapshot ?? 0;
    byKernel.set(k.name, e);
  }
  console.log(`profile fwd+bwd: peak ${mb(prof.peakBytes)}, new ${mb(prof.newBytes)}, kernels ${prof.kernels.length}`);
  const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
  console.log(`kernel time total ${total.toFixed(0)} ms`);
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
    console.log(`  ${name.padEnd(24)} ${e.ms.toFixed(0).padStart(8)} ms  x${e.n}`);
  }
  const slow = [...prof.kernels]
    .sort((a, b) => (Number(b.kernelTimeMs) || 0) - (Number(a.kernelTimeMs) || 0))
    .slice(0, 10);
  for (const k of slow)
    console.log(
      `  slowest ${k.name} ${Number(k.kernelTimeMs).toFixed(0)} ms in [${k.inputShapes.map((x) => `[${x}]`).join(' ')}] out [${k.outputShapes.map((x) => `[${x}]`).join(' ')}]`,
    );
}
console.log(`peak rss ${mb(process.resourceUsage().maxRSS * 1024)}`);
trainer.dispose();
shutdownBackend();
