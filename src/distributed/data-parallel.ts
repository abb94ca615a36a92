// Data-parallel training over a Collective (src/distributed/collective.ts) with global-batch losses: N ranks with a
// local batch of b samples each compute exactly the step of one process with the global batch N·b.
//
// One step on rank r (the seed's AllGather, docs/methods.md "Global batch", without a differentiable collective):
//   1. forward the local batch -> per-sample features (Supervision contract: first axis = sample);
//   2. all-gather every feature tensor in rank order (one flat Float32 all-gather) -> the global batch's features G;
//   3. loss over G with this rank's rows replaced by the local features that carry the gradient (the other ranks'
//      rows are constants): the gradient of rank r holds exactly the paths through rank r's samples. Summed over
//      ranks this is the full gradient of the global loss — the AllGather backward (sum over ranks, own slice);
//   4. parameters the loss uses directly (logit scales) get their direct gradient D on every rank, so ranks != 0
//      subtract D (computed once on G with every row constant) before the sum: D is counted once;
//   5. all-reduce-SUM the gradients in flattened Float32 buckets (a SUM, not a mean: each rank's gradient is already a
//      partial derivative of the global-mean loss; DDP's averaging exists because its per-rank losses are local means);
//   6. every rank then applies the identical AdamW step and logit-scale clamps (Trainer), so the weights stay equal
//      (rank 0's initial parameters are broadcast once, broadcastParameters).
// With micro-batches smaller than the local batch, steps 1-3 become the gradient cache of src/train/grad-cache.ts:
// features of every local micro-batch without gradient, gather, then per micro-batch recompute with gradient and
// splice at offset r·b + j·micro; D is then subtracted K - [r = 0] times (K = local micro-batches).
//
// Options, each an explicit choice:
//   nnQueue  'global'   every rank enqueues the gathered (global) features -> identical queues on every rank, the
//                       same run as one process with the global batch (the paper's "64K queue" wording);
//            'per-rank' every rank enqueues only its local rows (the seed's code: one queue per GPU, docs/methods.md "Which queue").
//   buffers  'mean'     BN running statistics are averaged over ranks after the forward (BN *training* statistics are
//                       local per rank = ghost BN with ghostSize = local batch, as the seed's per-GPU BN): equal to one
//                       process with ghost BN over the same chunks, and every rank (and the checkpoint) holds the same;
//            'rank0'    rank 0's running statistics are broadcast (PyTorch DDP's broadcast_buffers).
//   Synchronised BN (statistics over the global batch in the forward) is not provided.
//
// Fault injection (tests only): CLIP_BENCH_INJECT_FAULT=R@K makes rank R kill itself with SIGKILL at the start of the
// K-th step this process computes (test/distributed/fault.test.ts: the job must stop, then resume from a checkpoint).
import * as tf from '@tensorflow/tfjs';
import type { Collective } from './collective.ts';
import type { TrainBatch, TrainableModel, SupervisionLike } from '../train/contracts.ts';
import { batchSize } from '../train/contracts.ts';
import {
  computeGradients,
  sliceBatch,
  trainableVariables,
  lossWithDirectGradient,
  type GradientsResult,
} from '../train/grad-cache.ts';
import { variableGradsFrugal } from '../train/backprop.ts';
import type { ParamStore } from '../nn/params.ts';

export type NnQueueMode = 'global' | 'per-rank';
export type BufferSync = 'mean' | 'rank0';

export interface DataParallelOptions {
  nnQueue?: NnQueueMode;
  buffers?: BufferSync;
  /** Gradient all-reduce bucket size in bytes (PyTorch DDP's default bucket_cap_mb is 25). */
  bucketBytes?: number;
  /** Benchmarks: a timed barrier before each collective phase, so waiting for a slower rank (load imbalance) is
   *  counted in waitMs instead of inflating the transfer times. Off in training (it adds a synchronisation). */
  separateWait?: boolean;
}

/** Milliseconds spent in collectives during the last step, by kind (bench/distributed.ts reports them). */
export interface CommTimes {
  waitMs: number;
  gatherMs: number;
  allreduceMs: number;
  buffersMs: number;
  bytesGathered: number;
  bytesReduced: number;
  buckets: number;
}

const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

/** CLIP_BENCH_INJECT_FAULT=R@K -> { rank: R, step: K } (see the header). */
export function parseInjectedFault(value: string | undefined): { rank: number; step: number } | null {
  if (!value) return null;
  const m = /^(\d+)@(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < 1)
    throw new Error(`CLIP_BENCH_INJECT_FAULT must look like RANK@STEP (e.g. 1@3), got ${JSON.stringify(value)}`);
  return { rank: Number(m[1]), step: Number(m[2]) };
}

function elapsed(t0: number): number {
  return performance.now() - t0;
}

/**
 * All-gather per-sample tensors (first axis = sample) of equal shapes on every rank, concatenated in rank order.
 * One flat Float32 all-gather (int32 features travel as float32, exact below 2^24). Throws the same clear error on
 * every rank when the ranks' shapes differ (a shape header is gathered first).
 */
export function allgatherFeatures(
  world: Collective,
  local: Record<string, tf.Tensor>,
  times?: CommTimes,
): Record<string, tf.Tensor> {
  const keys = Object.keys(local).sort();
  const t0 = performance.now();
  const header = new Int32Array(keys.length * 5);
  keys.forEach((k, i) => {
    const s = local[k].shape;
    if (s.length > 4) throw new Error(`allgatherFeatures: feature "${k}" has rank ${s.length} (at most 4 supported)`);
    header[i * 5] = s.length;
    s.forEach((d, j) => {
      header[i * 5 + 1 + j] = d;
    });
  });
  const headers = world.allgather(header);
  for (let r = 0; r < world.size; r++) {
    for (let j = 0; j < header.length; j++) {
      if (headers[r * header.length + j] !== header[j]) {
        const shapeOf = (h: Int32Array, i: number) => `[${Array.from(h.subarray(i * 5 + 1, i * 5 + 1 + h[i * 5]))}]`;
        const i = Math.floor(j / 5);
        throw new Error(
          `data parallel: feature "${keys[i]}" is ${shapeOf(headers.subarray(r * header.length), i)} on rank ${r} but ${shapeOf(header, i)} on rank ${world.rank}; every rank needs the same local batch size`,
        );
      }
    }
  }
  const sizes = keys.map((k) => local[k].size);
  const total = sizes.reduce((a, b) => a + b, 0);
  const flat = new Float32Array(total);
  let off = 0;
  keys.forEach((k, i) => {
    flat.set(local[k].dataSync() as ArrayLike<number>, off);
    off += sizes[i];
  });
  const gathered = world.allgather(flat);
  if (times) {
    times.gatherMs += elapsed(t0);
    times.bytesGathered += gathered.byteLength;
  }
  const out: Record<string, tf.Tensor> = {};
  const starts: number[] = [];
  off = 0;
  for (const s of sizes) {
    starts.push(off);
    off += s;
  }
  keys.forEach((k, i) => {
    const t = local[k];
    const rows = new Float32Array(sizes[i] * world.size);
    for (let r = 0; r < world.size; r++)
      rows.set(gathered.subarray(r * total + starts[i], r * total + starts[i] + sizes[i]), r * sizes[i]);
    const shape = [t.shape[0] * world.size, ...t.shape.slice(1)];
    out[k] = t.dtype === 'int32' ? tf.tensor(Int32Array.from(rows), shape, 'int32') : tf.tensor(rows, shape, 'float32');
  });
  return out;
}

/** global with rows [start, start + local rows) replaced by `mine` (which carries the gradient). */
function splice(global: tf.Tensor, mine: tf.Tensor, start: number): tf.Tensor {
  const n = global.shape[0];
  const m = mine.shape[0];
  const rest = global.shape.slice(1).map(() => -1);
  const zeros = global.shape.slice(1).map(() => 0);
  const parts: tf.Tensor[] = [];
  if (start > 0) parts.push(tf.slice(global, [0, ...zeros], [start, ...rest]));
  parts.push(mine);
  if (start + m < n) parts.push(tf.slice(global, [start + m, ...zeros], [n - start - m, ...rest]));
  return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
}

/**
 * Sum of every rank's gradients, in place of `grads` (disposes the inputs). The set of parameters with a gradient is
 * the union over ranks (a parameter another rank reached gets this rank's zero contribution). Buckets are flattened
 * Float32Arrays of about `bucketBytes`, filled in ParamStore order so every rank packs the same layout.
 */
export function allreduceGradients(
  world: Collective,
  store: ParamStore,
  grads: Record<string, tf.Tensor>,
  bucketBytes = DEFAULT_BUCKET_BYTES,
  times?: CommTimes,
): Record<string, tf.Tensor> {
  const entries = store.trainableEntries();
  const t0 = performance.now();
  const present = new Uint8Array(entries.length);
  entries.forEach((e, i) => {
    present[i] = grads[e.name] ? 1 : 0;
  });
  world.allreduceMax(present);
  const chosen = entries.filter((_, i) => present[i] === 1);
  const out: Record<string, tf.Tensor> = {};
  const maxFloats = Math.max(1, Math.floor(bucketBytes / 4));
  let i = 0;
  while (i < chosen.length) {
    // one bucket: parameters in order until the bucket is full (a parameter larger than a bucket gets its own)
    const members: typeof chosen = [];
    let floats = 0;
    while (i < chosen.length && (members.length === 0 || floats + chosen[i].variable.size <= maxFloats)) {
      members.push(chosen[i]);
      floats += chosen[i].variable.size;
      i++;
    }
    const bucket = new Float32Array(floats);
    let off = 0;
    for (const e of members) {
      const g = grads[e.name];
      if (g) bucket.set(g.dataSync() as Float32Array, off);
      off += e.variable.size;
    }
    world.allreduceSum(bucket);
    if (times) {
      times.buckets++;
      times.bytesReduced += bucket.byteLength;
    }
    off = 0;
    for (const e of members) {
      out[e.name] = tf.tensor(bucket.subarray(off, off + e.variable.size), e.variable.shape, 'float32');
      off += e.variable.size;
    }
  }
  for (const g of Object.values(grads)) g.dispose();
  if (times) times.allreduceMs += elapsed(t0);
  return out;
}

/** Make every rank hold rank `root`'s values of every ParamStore entry (parameters and buffers). */
export function broadcastParameters(world: Collective, store: ParamStore, root = 0): void {
  if (world.size === 1) return;
  for (const dtype of ['float32', 'int32'] as const) {
    const entries = store.entries().filter((e) => (e.variable.dtype === 'int32') === (dtype === 'int32'));
    const total = entries.reduce((a, e) => a + e.variable.size, 0);
    if (total === 0) continue;
    const flat = dtype === 'int32' ? new Int32Array(total) : new Float32Array(total);
    let off = 0;
    for (const e of entries) {
      flat.set(e.variable.dataSync() as ArrayLike<number>, off);
      off += e.variable.size;
    }
    world.broadcast(flat, root);
    off = 0;
    for (const e of entries) {
      store.assign(e.name, flat.subarray(off, off + e.variable.size), e.variable.shape);
      off += e.variable.size;
    }
  }
}

/** BN running statistics made equal on every rank (see `buffers` above). */
export function syncBuffers(world: Collective, store: ParamStore, mode: BufferSync, times?: CommTimes): void {
  if (world.size === 1) return;
  const t0 = performance.now();
  const buffers = store.buffers();
  const floats = buffers.filter((e) => e.variable.dtype !== 'int32');
  const ints = buffers.filter((e) => e.variable.dtype === 'int32');
  const pack = (list: typeof buffers, flat: Float32Array | Int32Array) => {
    let off = 0;
    for (const e of list) {
      flat.set(e.variable.dataSync() as ArrayLike<number>, off);
      off += e.variable.size;
    }
  };
  const unpack = (list: typeof buffers, flat: Float32Array | Int32Array) => {
    let off = 0;
    for (const e of list) {
      store.assign(e.name, flat.subarray(off, off + e.variable.size), e.variable.shape);
      off += e.variable.size;
    }
  };
  const nf = floats.reduce((a, e) => a + e.variable.size, 0);
  if (nf > 0) {
    const flat = new Float32Array(nf);
    pack(floats, flat);
    if (mode === 'mean') world.allreduceMean(flat);
    else world.broadcast(flat, 0);
    unpack(floats, flat);
  }
  const ni = ints.reduce((a, e) => a + e.variable.size, 0);
  if (ni > 0) {
    // counters (num_batches_tracked): equal on every rank, rank 0's is kept
    const flat = new Int32Array(ni);
    pack(ints, flat);
    world.broadcast(flat, 0);
    unpack(ints, flat);
  }
  if (times) times.buffersMs += elapsed(t0);
}

export interface DataParallel {
  readonly world: Collective;
  readonly options: Required<DataParallelOptions>;
  /** Collective time of the last step. */
  readonly lastComm: CommTimes;
  /** Drop-in for src/train/grad-cache.ts computeGradients (TrainerOptions.computeGradients): global-batch gradients. */
  computeGradients<M extends TrainableModel>(
    model: M,
    supervision: SupervisionLike<M>,
    batch: TrainBatch,
    microBatchSize: number,
  ): GradientsResult;
}

export function createDataParallel(world: Collective, options: DataParallelOptions = {}): DataParallel {
  const o: Required<DataParallelOptions> = {
    nnQueue: options.nnQueue ?? 'global',
    buffers: options.buffers ?? 'mean',
    bucketBytes: options.bucketBytes ?? DEFAULT_BUCKET_BYTES,
    separateWait: options.separateWait ?? false,
  };
  const wait = () => {
    if (o.separateWait) {
      const t0 = performance.now();
      world.barrier();
      lastComm.waitMs += elapsed(t0);
    }
  };
  if (o.nnQueue !== 'global' && o.nnQueue !== 'per-rank')
    throw new Error(`data parallel: nnQueue must be 'global' or 'per-rank', got ${JSON.stringify(o.nnQueue)}`);
  if (o.buffers !== 'mean' && o.buffers !== 'rank0')
    throw new Error(`data parallel: buffers must be 'mean' or 'rank0', got ${JSON.stringify(o.buffers)}`);
  if (!(Number.isInteger(o.bucketBytes) && o.bucketBytes >= 4))
    throw new Error(`data parallel: bucketBytes must be an integer >= 4, got ${o.bucketBytes}`);
  const lastComm: CommTimes = {
    waitMs: 0,
    gatherMs: 0,
    allreduceMs: 0,
    buffersMs: 0,
    bytesGathered: 0,
    bytesReduced: 0,
    buckets: 0,
  };
  const fault = parseInjectedFault(process.env.CLIP_BENCH_INJECT_FAULT);
  let calls = 0;

  function step<M extends TrainableModel>(
    model: M,
    supervision: SupervisionLike<M>,
    batch: TrainBatch,
    microBatchSize: number,
  ): GradientsResult {
    calls++;
    if (fault && fault.rank === world.rank && fault.step === calls) {
      process.stderr.write(
        `rank ${world.rank}: injected fault (CLIP_BENCH_INJECT_FAULT=${fault.rank}@${fault.step}): killing this rank at the start of its step ${calls}\n`,
      );
      process.kill(process.pid, 'SIGKILL');
    }
    Object.assign(lastComm, {
      waitMs: 0,
      gatherMs: 0,
      allreduceMs: 0,
      buffersMs: 0,
      bytesGathered: 0,
      bytesReduced: 0,
      buckets: 0,
    });
    if (world.size === 1) return computeGradients(model, supervision, batch, microBatchSize);
    const b = batchSize(batch);
    const micro = microBatchSize > 0 ? Math.min(microBatchSize, b) : b;
    if (b % micro !== 0)
      throw new Error(`data parallel: local batch of ${b} is not a multiple of the micro-batch ${micro}`);
    const chunks = b / micro;
    const offset = world.rank * b;
    const { vars, rename } = trainableVariables(model);
    const accumulate = (acc: Record<string, tf.Tensor>, add: Record<string, tf.Tensor>) => {
      for (const [k, g] of Object.entries(add)) {
        if (acc[k]) {
          const s = tf.add(acc[k], g);
          acc[k].dispose();
          g.dispose();
          acc[k] = s;
        } else acc[k] = g;
      }
    };

    let local: Record<string, tf.Tensor>;
    let global: Record<string, tf.Tensor> = {};
    let acc: Record<string, tf.Tensor> = {};
    if (chunks === 1) {
      // One forward with gradient; the gather reads the values inside the tape (the gathered rows are constants).
      let kept: Record<string, tf.Tensor> = {};
      const { value, grads } = variableGradsFrugal(() => {
        const f = supervision.features(model, batch, { training: true });
        for (const t of Object.values(f)) tf.keep(t);
        kept = f;
        wait();
        global = allgatherFeatures(world, f, lastComm);
        for (const t of Object.values(global)) tf.keep(t);
        const full: Record<string, tf.Tensor> = {};
        for (const [k, g] of Object.entries(global)) full[k] = splice(g, f[k], offset);
        return supervision.loss(full, model).total;
      }, vars);
      value.dispose();
      local = kept;
      acc = rename(grads);
    } else {
      // Gradient cache: local features without gradient, gathered; then per micro-batch with gradient, spliced.
      local = tf.tidy(() => {
        const pieces: Record<string, tf.Tensor[]> = {};
        for (let j = 0; j < chunks; j++) {
          const f = supervision.features(model, sliceBatch(batch, j * micro, micro), { training: true });
          for (const [k, t] of Object.entries(f)) (pieces[k] ??= []).push(t);
        }
        return Object.fromEntries(Object.entries(pieces).map(([k, ts]) => [k, tf.concat(ts, 0)])) as Record<
          string,
          tf.Tensor
        >;
      });
      wait();
      global = allgatherFeatures(world, local, lastComm);
      for (let j = 0; j < chunks; j++) {
        const { value, grads } = variableGradsFrugal(() => {
          const f = supervision.features(model, sliceBatch(batch, j * micro, micro), {
            training: true,
            updateStats: false,
          });
          const full: Record<string, tf.Tensor> = {};
          for (const [k, g] of Object.entries(global)) {
            if (!f[k])
              throw new Error(
                `data parallel: supervision ${supervision.name} returned feature "${k}" in one pass but not the other`,
              );
            full[k] = splice(g, f[k], offset + j * micro);
          }
          return supervision.loss(full, model).total;
        }, vars);
        value.dispose();
        accumulate(acc, rename(grads));
      }
    }

    // Loss and parts of the global batch, and the direct gradient D of loss-side parameters (every row constant).
    const { loss, parts, direct } = lossWithDirectGradient(model, supervision, global, vars, rename);
    {
      const times = chunks - (world.rank === 0 ? 1 : 0);
      for (const [k, d] of Object.entries(direct)) {
        if (acc[k] && times > 0) {
          const fixed = tf.tidy(() => tf.sub(acc[k], tf.mul(d, times)));
          acc[k].dispose();
          acc[k] = fixed;
        }
        d.dispose();
      }
    }

    wait();
    syncBuffers(world, model.store, o.buffers, lastComm);
    const grads = allreduceGradients(world, model.store, acc, o.bucketBytes, lastComm);
    let features: Record<string, tf.Tensor>;
    if (o.nnQueue === 'global') {
      features = global;
      for (const t of Object.values(local)) t.dispose();
    } else {
      features = local;
      for (const t of Object.values(global)) t.dispose();
    }
    return { grads, loss, parts, features };
  }

  return { world, options: o, lastComm, computeGradients: step };
}
