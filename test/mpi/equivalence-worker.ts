// Launched by test/distributed/equivalence.test.ts under `mpirun -np 2`. For each supervision given on the command line:
//   - the data-parallel run: every rank trains a tiny model on its contiguous half of deterministic global batches
//     (rank 1 starts from DIFFERENT random weights, so rank 0's broadcast is exercised);
//   - the 1-rank reference: the ordinary Trainer (no collective) on the whole global batch, in this process;
//   - for CLIP also plain DDP (local losses, averaged gradients), the negative control: no gathered negatives.
// Prints one JSON line per rank and supervision: per-step losses of each run, the worst relative weight difference
// (per tensor: max |dp - ref| / max |ref|) over parameters and BN buffers, and the replicas' divergence.
// Usage: node test/mpi/equivalence-worker.ts <steps> <globalBatch> <adamEps> <name[:micro[:nnQueue[:bucketBytes]]]>...
//        node test/mpi/equivalence-worker.ts mismatch   (rank 1 brings a different local batch: a clear error on every rank)
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.ts';
import { getCollective, type Collective } from '../../src/distributed/collective.ts';
import {
  createDataParallel,
  broadcastParameters,
  allreduceGradients,
  allgatherFeatures,
  type NnQueueMode,
} from '../../src/distributed/data-parallel.ts';
import { syntheticBatch, type SyntheticBatchSpec } from '../../fixtures/synthetic-batch.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { createClip, type ClipModel } from '../../src/models/clip.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { Rng } from '../../src/rng.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import type { SupervisionName } from '../../src/supervision/index.ts';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.ts';
import { seedAdamW } from '../../src/train/adamw.ts';
import { computeGradients } from '../../src/train/grad-cache.ts';
import { batchTensors } from '../../src/train/contracts.ts';

/** Max over ranks of |value - rank 0's value| over every ParamStore entry: 0 when the replicas are identical. */
function replicaDivergence(world: Collective, store: ParamStore): number {
  const entries = store.entries().filter((e) => e.variable.dtype !== 'int32');
  const total = entries.reduce((a, e) => a + e.variable.size, 0);
  const mine = new Float32Array(total);
  let off = 0;
  for (const e of entries) {
    mine.set(e.variable.dataSync() as Float32Array, off);
    off += e.variable.size;
  }
  const root = world.broadcast(mine.slice(), 0);
  let worst = 0;
  for (let i = 0; i < total; i++) worst = Math.max(worst, Math.abs(mine[i] - root[i]));
  return world.allreduceMax(new Float32Array([worst]))[0];
}

const [stepsArg, batchArg, epsArg, ...runs] = process.argv.slice(2);
if (stepsArg === 'mismatch') {
  const w = getCollective();
  await initBackend({ threads: 1, quiet: true });
  const feature = tf.zeros([w.rank === 0 ? 4 : 3, 8]);
  try {
    allgatherFeatures(w, { image: feature });
    console.log(JSON.stringify({ rank: w.rank, error: null }));
  } catch (err) {
    console.log(JSON.stringify({ rank: w.rank, error: (err as Error).message }));
  }
  w.barrier();
  w.finalize();
  process.exit(0);
}
const steps = Number(stepsArg);
const eps = Number(epsArg);
const nullBelow = Number(process.env.NULL_BELOW ?? 1e-6);
const B = Number(batchArg);
const world = getCollective();
await initBackend({ threads: 1, quiet: true });

const config = buildClipConfig('tiny', { text: { vocabSize: 64, contextLength: 12 } });
const optionsFor = (name: string, ghost: number): Record<string, unknown> =>
  ({
    clip: {},
    declip: { projectorHidden: 16, projectorOut: 16, predictorHidden: 8, queueSize: 32, headGhostSize: ghost },
    filip: { denseDim: 8, topK: 3, textPadding: 'exclude' },
  })[name] ?? {};

type GradientFn = NonNullable<TrainerOptions['computeGradients']>;

/** Wraps a gradient function to keep a copy of every step's (all-reduced) gradients. */
function recording(fn: GradientFn, log: Array<Record<string, Float32Array>>): GradientFn {
  return (model, supervision, batch, micro) => {
    const r = fn(model, supervision, batch, micro);
    log.push(
      Object.fromEntries(Object.entries(r.grads).map(([k, g]) => [k, Float32Array.from(g.dataSync() as Float32Array)])),
    );
    return r;
  };
}

/** Worst over steps and tensors of max |a - b| / max |b| (per tensor; tensors whose exact gradient is zero skipped). */
function worstGradient(
  a: Array<Record<string, Float32Array>>,
  b: Array<Record<string, Float32Array>>,
  nullBelow: number,
): { worst: number; name: string } {
  let worst = 0;
  let name = '';
  b.forEach((ref, s) => {
    const stepMax = Math.max(...Object.values(ref).map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    const keys = new Set([...Object.keys(ref), ...Object.keys(a[s])]);
    for (const k of keys) {
      const x = a[s][k];
      const y = ref[k];
      if (!x || !y) {
        worst = Infinity;
        name = `${k} (missing at step ${s + 1})`;
        continue;
      }
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < y.length; i++) {
        diff = Math.max(diff, Math.abs(x[i] - y[i]));
        scale = Math.max(scale, Math.abs(y[i]));
      }
      if (scale <= nullBelow * stepMax) continue;
      const rel = diff / scale;
      if (rel > worst) {
        worst = rel;
        name = `${k} @ step ${s + 1}`;
      }
    }
  });
  return { worst, name };
}

function build(
  name: string,
  modelSeed: number,
  ghost: number,
  gradients?: TrainerOptions['computeGradients'],
  micro = 0,
) {
  const sup = createSupervision(name as SupervisionName, optionsFor(name, ghost));
  const model = createClip(config, new ParamStore(), new Rng(modelSeed));
  sup.addHeads(model, new Rng(6));
  const trainer = new Trainer<ClipModel>(model, sup, {
    schedule: { baseLr: 2e-3, peakLr: 2e-3, warmupSteps: 0, totalSteps: 100, minLr: 2e-3 },
    adamw: { ...seedAdamW(0.1), eps },
    microBatchSize: micro,
    nanPolicy: 'stop',
    computeGradients: gradients,
  });
  return { sup, model, trainer };
}

const tensorCounts: number[] = [];

function train(t: ReturnType<typeof build>, spec: SyntheticBatchSpec, start: number, count: number): number[] {
  const losses: number[] = [];
  tensorCounts.length = 0;
  for (let s = 1; s <= steps; s++) {
    const batch = syntheticBatch(11, s, spec, start, count);
    const r = t.trainer.trainStep(batch);
    for (const x of batchTensors(batch)) x.dispose();
    if (r.verdict.action !== 'ok') throw new Error(`step ${s}: ${r.verdict.action}`);
    losses.push(r.loss);
    tensorCounts.push(tf.memory().numTensors);
  }
  return losses;
}

/**
 * Worst over tensors of max |a - b| / max |b|, over trainable parameters ('params') or BN running statistics
 * ('buffers'). Parameter coordinates whose exact gradient is zero are skipped (their reference gradient stayed below
 * nullBelow x the largest gradient of the model at every step): attention key biases (softmax is shift-invariant),
 * biases feeding straight into a BatchNorm. In float32 their gradients are rounding noise in ANY two computations of
 * the same step (also two micro-batch splits in one process), and Adam normalises noise into steps of size lr.
 */
function worstRelative(
  a: ParamStore,
  b: ParamStore,
  which: 'params' | 'buffers',
  refGrads: Array<Record<string, Float32Array>>,
  nullBelow: number,
): { worst: number; name: string; skipped: number; l2: number } {
  let worst = 0;
  let name = '';
  let skipped = 0;
  let d2 = 0;
  let n2 = 0;
  const stepMax = refGrads.map((g) =>
    Math.max(...Object.values(g).map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0))),
  );
  for (const e of a.entries()) {
    if (e.variable.dtype === 'int32' || (which === 'buffers') !== (e.meta.kind === 'buffer')) continue;
    const x = e.variable.dataSync();
    const y = b.get(e.name).dataSync();
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(y[i]));
      if (
        which === 'params' &&
        refGrads.every((g, s) => !g[e.name] || Math.abs(g[e.name][i]) <= nullBelow * stepMax[s])
      ) {
        skipped++;
        continue;
      }
      diff = Math.max(diff, Math.abs(x[i] - y[i]));
      d2 += (x[i] - y[i]) ** 2;
      n2 += y[i] ** 2;
    }
    const rel = diff / Math.max(scale, 1e-12);
    if (rel > worst) {
      worst = rel;
      name = e.name;
    }
  }
  return { worst, name, skipped, l2: Math.sqrt(d2 / Math.max(n2, 1e-30)) };
}

/** Plain DDP: each rank's loss over its local batch only, gradients averaged (what all-gather exists to fix). */
function localLossDdp(w: Collective): TrainerOptions['computeGradients'] {
  return (model, supervision, batch, micro) => {
    const r = computeGradients(model, supervision, batch, micro);
    const grads = allreduceGradients(w, model.store, r.grads);
    for (const [k, g] of Object.entries(grads)) {
      grads[k] = tf.div(g, w.size);
      g.dispose();
    }
    return { ...r, grads, loss: w.allreduceMean(new Float64Array([r.loss]))[0] };
  };
}

for (const run of runs) {
  const [name, microText, queueText, bucketText] = run.split(':');
  const micro = Number(microText ?? 0);
  const nnQueue = (queueText || 'global') as NnQueueMode;
  const bucketBytes = bucketText ? Number(bucketText) : undefined;
  const local = B / world.size;
  const sup0 = createSupervision(name as SupervisionName, optionsFor(name, local));
  const spec: SyntheticBatchSpec = {
    size: B,
    imageViews: sup0.imageViews.length,
    imageSize: config.vision.imageSize,
    contextLength: 12,
    vocabSize: 64,
  };
  sup0.dispose();
  const dp = createDataParallel(world, { nnQueue, buffers: 'mean', bucketBytes });
  const dpGrads: Array<Record<string, Float32Array>> = [];
  const refGrads: Array<Record<string, Float32Array>> = [];
  const par = build(name, 5 + world.rank, local, recording(dp.computeGradients, dpGrads), micro);
  broadcastParameters(world, par.model.store);
  const t0 = performance.now();
  const dpLosses = train(par, spec, world.rank * local, local);
  const dpTensorCounts = [...tensorCounts];
  const dpMs = performance.now() - t0;
  const divergence = replicaDivergence(world, par.model.store);
  const ref = build(name, 5, local, recording(computeGradients, refGrads));
  const refLosses = train(ref, spec, 0, B);
  const weights = worstRelative(par.model.store, ref.model.store, 'params', refGrads, nullBelow);
  const buffers = worstRelative(par.model.store, ref.model.store, 'buffers', refGrads, nullBelow);
  const grads = worstGradient(dpGrads, refGrads, nullBelow);
  const grads1 = worstGradient(dpGrads.slice(0, 1), refGrads.slice(0, 1), nullBelow);
  const out: Record<string, unknown> = {
    rank: world.rank,
    size: world.size,
    name,
    micro,
    nnQueue,
    buckets: dp.lastComm.buckets,
    dpLosses,
    refLosses,
    weightsL2: weights.l2,
    worstWeight: weights.worst,
    worstName: weights.name,
    nullSkipped: weights.skipped,
    worstBuffer: buffers.worst,
    worstBufferName: buffers.name,
    worstGrad: grads.worst,
    worstGradName: grads.name,
    worstGradStep1: grads1.worst,
    worstGradStep1Name: grads1.name,
    divergence,
    dpMs: Math.round(dpMs),
    dpTensorCounts,
  };
  const state = par.sup.getState().nnQueue as { bank: Float32Array } | undefined;
  if (state) {
    // how far this rank's NN queue is from rank 0's
    const mine = state.bank;
    const root = world.broadcast(mine.slice(), 0);
    out.queueDiff = mine.reduce((m, v, i) => Math.max(m, Math.abs(v - root[i])), 0);
  }
  if (name === 'clip' && !bucketBytes) {
    const ddp = build(name, 5 + world.rank, local, localLossDdp(world), micro);
    broadcastParameters(world, ddp.model.store);
    out.ddpLosses = train(ddp, spec, world.rank * local, local);
    const ddpWeights = worstRelative(ddp.model.store, ref.model.store, 'params', refGrads, nullBelow);
    out.ddpWeightsL2 = ddpWeights.l2;
    out.ddpWorstWeight = ddpWeights.worst;
    ddp.trainer.dispose();
    ddp.sup.dispose();
    ddp.model.dispose();
  }
  console.log(JSON.stringify(out));
  for (const x of [par, ref]) {
    x.trainer.dispose();
    x.sup.dispose();
    x.model.dispose();
  }
}
world.barrier();
world.finalize();
process.exit(0);
