// Benchmark: the whole training step as the runner runs it (src/train/trainer.ts: forward, loss, backward, gradient
// cache, guard, logit-scale clamps, AdamW, NN-queue enqueue) for the tiny CLIP preset, per backend. Prints median wall
// and CPU ms per step, samples/s, and the load average (the machine may be shared; CPU time is the steadier number).
//
// Usage: node bench/trainer-step.ts [--backend wasm|cpu|webgpu] [--supervision clip|declip|slip|filip|defilip]
//                                   [--batch 64] [--micro 0] [--steps 12] [--threads N] [--root DIR]
// --root runs the same measurement against another checkout of the project (e.g. the commit before a change), so a
// before/after comparison uses one script.
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const root = pathToFileURL(path.resolve(opt('--root', new URL('..', import.meta.url).pathname)) + '/').href;
const backendName = opt('--backend', 'wasm');
const supervisionName = opt('--supervision', 'clip');
const B = Number(opt('--batch', '64'));
const micro = Number(opt('--micro', '0'));
const steps = Number(opt('--steps', '12'));
const threads = opt('--threads', '');

const { initBackend, shutdownBackend } = await import(`${root}src/backend.ts`);
const { Rng } = await import(`${root}src/rng.ts`);
const { ParamStore } = await import(`${root}src/nn/params.ts`);
const { createClip } = await import(`${root}src/models/clip.ts`);
const { buildClipConfig } = await import(`${root}src/models/presets.ts`);
const { createSupervision } = await import(`${root}src/supervision/index.ts`);
const { Trainer } = await import(`${root}src/train/trainer.ts`);

const info = await initBackend({ backend: backendName, quiet: true, ...(threads ? { threads: Number(threads) } : {}) });
const config = buildClipConfig('tiny');
const rng = new Rng(7);
const model = createClip(config, new ParamStore(), rng.fork());
const small = {
  projectorHidden: 64,
  projectorOut: 64,
  predictorHidden: 32,
  queueSize: 1024,
  mlpHidden: 64,
  mlpOut: 32,
};
const options: Record<string, Record<string, unknown>> = {
  clip: {},
  declip: { ...pick(small, ['projectorHidden', 'projectorOut', 'predictorHidden', 'queueSize']) },
  slip: pick(small, ['mlpHidden', 'mlpOut']),
  filip: {},
  defilip: { ...pick(small, ['projectorHidden', 'projectorOut', 'predictorHidden', 'queueSize']) },
};
const sup = createSupervision(supervisionName, options[supervisionName]);
sup.addHeads(model, rng.fork());
const trainer = new Trainer(model, sup, {
  schedule: { baseLr: 1e-4, peakLr: 5e-4, warmupSteps: 2, totalSteps: 1000, minLr: 0 },
  adamw: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 },
  microBatchSize: micro,
  nanPolicy: 'stop',
});

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

function makeBatch(seed: number) {
  const r = new Rng(seed);
  const size = config.vision.imageSize;
  const ctx = config.text.contextLength;
  const image = () => {
    const d = new Float32Array(B * size * size * 3);
    for (let i = 0; i < d.length; i++) d[i] = r.normal();
    return tf.tensor4d(d, [B, size, size, 3]);
  };
  const ids = (mlm = false) => {
    const d = new Int32Array(B * ctx);
    for (let b = 0; b < B; b++) {
      const len = 4 + r.int(ctx - 6);
      d[b * ctx] = 49406;
      for (let t = 1; t < len; t++) d[b * ctx + t] = mlm ? (r.int(7) === 0 ? 1 + r.int(400) : -100) : 1 + r.int(400);
      d[b * ctx + len] = mlm ? -100 : 49407;
    }
    return tf.tensor2d(d, [B, ctx], 'int32');
  };
  const texts: Record<string, tf.Tensor2D> = {};
  for (const v of sup.textViews) texts[v] = ids();
  if (sup.textViews.includes('mlm')) texts.mlmLabels = ids(true);
  return { images: sup.imageViews.map(() => image()), texts };
}

const batch = makeBatch(11);
const wall: number[] = [],
  cpu: number[] = [];
let last = { loss: NaN };
for (let s = 0; s < steps + 2; s++) {
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  last = await trainer.trainStep(batch);
  if (s >= 2) {
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = median(wall);
console.log(
  `${supervisionName} tiny-vit/tiny-text batch ${B}${micro ? ` (micro ${micro})` : ''} on ${info.name} (${info.threads} thread(s)): ` +
    `median ${ms.toFixed(1)} ms (min ${Math.min(...wall).toFixed(1)}), CPU ${median(cpu).toFixed(1)} ms, ` +
    `${((B * 1000) / ms).toFixed(0)} samples/s; loss ${last.loss.toFixed(4)}; load average ${os.loadavg()[0]!.toFixed(2)}` +
    (opt('--root', '') ? `; code ${opt('--root', '')}` : ''),
);
tf.dispose([...batch.images, ...Object.values(batch.texts)]);
trainer.dispose();
shutdownBackend();
