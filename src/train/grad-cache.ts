// Gradient accumulation that is exact for contrastive losses (the gradient cache of open_clip's accum-freq):
// a contrastive loss couples every sample with every other, so summing per-micro-batch losses is NOT the batch
// loss. Instead:
//   1. compute the features of the whole batch, micro-batch by micro-batch, without gradients (cached);
//   2. for each micro-batch j, recompute its features WITH gradients, splice them into the cached features of the
//      other samples, evaluate the full-batch loss and take the gradient (which flows only through micro-batch j);
//   3. the sum over j of these gradients is the full-batch gradient (the cached rows are constants, and the loss
//      is a function of all rows), except that parameters used by the loss itself (logit scales) get their direct
//      gradient once per micro-batch: that surplus, (K - 1) x the direct gradient, is subtracted.
// Requirements: features are per-sample (first axis) and deterministic given the weights; batch-norm layers use
// statistics per micro-batch ("ghost" BN with ghostSize = micro-batch, as the seed's per-GPU BN over 128 samples).
// Running statistics are updated only once per step (by the gradient-free pass): buffers are restored after the
// recomputation.
import * as tf from '@tensorflow/tfjs';
import type { TrainBatch, TrainableModel, SupervisionLike } from './contracts.ts';
import { batchSize } from './contracts.ts';
import { variableGradsFrugal } from './backprop.ts';
import { hostValues, isHostMemoryBackend, rememberHostValues } from '../host-values.ts';

export interface GradientsResult {
  /** Gradient per ParamStore name (only parameters the loss depends on). Caller disposes. */
  grads: Record<string, tf.Tensor>;
  /** Full-batch loss and parts, still on the backend (the trainer reads them with the step's one read). Caller disposes. */
  loss: tf.Scalar;
  parts: Record<string, tf.Scalar>;
  /** Full-batch features (kept; caller disposes) for supervision.afterStep. */
  features: Record<string, tf.Tensor>;
}

/**
 * Rows [start, start + size) of every batch tensor. Text ids (int32 input data) are sliced from their host copy when
 * there is one, so the slice keeps a host copy too (the MLM labels are needed on the host, see src/host-values.ts).
 */
export function sliceBatch(batch: TrainBatch, start: number, size: number): TrainBatch {
  const rows = <T extends tf.Tensor>(t: T): T =>
    tf.slice(t, [start, ...t.shape.slice(1).map(() => 0)], [size, ...t.shape.slice(1).map(() => -1)]) as T;
  const textRows = (t: tf.Tensor2D): tf.Tensor2D => {
    if (isHostMemoryBackend()) return rows(t);
    const width = t.shape[1];
    const values = hostValues(t).slice(start * width, (start + size) * width) as Int32Array;
    const out = tf.tensor2d(values, [size, width], t.dtype as 'int32');
    rememberHostValues(out, values);
    return out;
  };
  const texts: TrainBatch['texts'] = {};
  for (const [k, t] of Object.entries(batch.texts) as Array<[keyof TrainBatch['texts'], tf.Tensor2D | undefined]>)
    if (t) texts[k] = textRows(t);
  return { images: batch.images.map(rows), texts };
}

/** Let the event loop turn (Dawn frees native objects then); between micro-batches on a GPU backend. */
export async function turnEventLoopOnDevice(): Promise<void> {
  if (!isHostMemoryBackend()) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The model's trainable variables, and `rename` mapping a gradient map keyed by tfjs variable names to store names. */
export function trainableVariables(model: TrainableModel): {
  vars: tf.Variable[];
  rename: (g: Record<string, tf.Tensor | null>) => Record<string, tf.Tensor>;
} {
  const entries = model.store.trainableEntries();
  const names = new Map(entries.map((e) => [e.variable.name, e.name]));
  const rename = (g: Record<string, tf.Tensor | null>) => {
    const out: Record<string, tf.Tensor> = {};
    for (const [vname, t] of Object.entries(g)) if (t) out[names.get(vname)!] = t;
    return out;
  };
  return { vars: entries.map((e) => e.variable), rename };
}

/**
 * The loss and its named parts on features whose rows are all constants, and the DIRECT gradient of the parameters
 * the loss uses itself (logit scales, loss-side heads). A gradient-cache pass includes that direct gradient once per
 * recomputation, so callers subtract the surplus. With no loss-side parameter the direct gradient is empty.
 */
export function lossWithDirectGradient<M extends TrainableModel>(
  model: M,
  supervision: SupervisionLike<M>,
  features: Record<string, tf.Tensor>,
  vars: tf.Variable[],
  rename: (g: Record<string, tf.Tensor | null>) => Record<string, tf.Tensor>,
): { loss: tf.Scalar; parts: Record<string, tf.Scalar>; direct: Record<string, tf.Tensor> } {
  let partTensors: Record<string, tf.Scalar> = {};
  let value: tf.Scalar;
  let direct: Record<string, tf.Tensor> = {};
  try {
    const r = variableGradsFrugal(() => {
      const out = supervision.loss(features, model);
      partTensors = out.parts;
      for (const p of Object.values(partTensors)) tf.keep(p);
      return out.total;
    }, vars);
    value = r.value;
    direct = rename(r.grads);
  } catch (err) {
    if (!/Cannot find a connection/.test((err as Error).message)) throw err;
    for (const p of Object.values(partTensors)) p.dispose();
    const out = tf.tidy(() => {
      const o = supervision.loss(features, model);
      return { total: tf.keep(o.total), parts: o.parts };
    });
    partTensors = out.parts;
    value = out.total;
  }
  return { loss: value, parts: partTensors, direct };
}

/**
 * Per-sample features of the whole batch, micro-batch by micro-batch, without gradients (training mode: BN running
 * statistics move), concatenated. The event loop turns between micro-batches on a GPU backend.
 */
export async function featuresWithoutGradient<M extends TrainableModel>(
  model: M,
  supervision: SupervisionLike<M>,
  batch: TrainBatch,
  micro: number,
): Promise<Record<string, tf.Tensor>> {
  const chunks = batchSize(batch) / micro;
  const pieces: Record<string, tf.Tensor[]> = {};
  try {
    for (let j = 0; j < chunks; j++) {
      if (j > 0) await turnEventLoopOnDevice();
      const f = tf.tidy(() => supervision.features(model, sliceBatch(batch, j * micro, micro), { training: true }));
      for (const [k, t] of Object.entries(f)) (pieces[k] ??= []).push(t);
    }
    return tf.tidy(() =>
      Object.fromEntries(
        Object.entries(pieces).map(([k, ts]) => [k, ts.length === 1 ? tf.clone(ts[0]!) : tf.concat(ts, 0)]),
      ),
    ) as Record<string, tf.Tensor>;
  } finally {
    for (const ts of Object.values(pieces)) tf.dispose(ts);
  }
}

/**
 * Loss, parts, gradients and features of one batch. With microBatchSize >= batch size (or 0) this is a single
 * forward/backward; otherwise the gradient cache above.
 */
export async function computeGradients<M extends TrainableModel>(
  model: M,
  supervision: SupervisionLike<M>,
  batch: TrainBatch,
  microBatchSize: number,
): Promise<GradientsResult> {
  const B = batchSize(batch);
  const micro = microBatchSize > 0 ? Math.min(microBatchSize, B) : B;
  const { vars, rename } = trainableVariables(model);

  if (micro >= B) {
    let features: Record<string, tf.Tensor> = {};
    let parts: Record<string, tf.Scalar> = {};
    const { value, grads } = variableGradsFrugal(() => {
      features = supervision.features(model, batch, { training: true });
      const out = supervision.loss(features, model);
      for (const t of Object.values(features)) tf.keep(t);
      parts = out.parts;
      for (const t of Object.values(parts)) tf.keep(t);
      return out.total;
    }, vars);
    return { grads: rename(grads), loss: value, parts, features };
  }

  if (B % micro !== 0) throw new Error(`gradient cache: batch of ${B} is not a multiple of the micro-batch ${micro}`);
  const chunks = B / micro;

  // 1. Features of the whole batch without gradients (this pass also updates BN running statistics once).
  const cached = await featuresWithoutGradient(model, supervision, batch, micro);
  const bufferSnapshot = model.store.buffers().map((e) => ({ variable: e.variable, value: tf.clone(e.variable) }));

  // The loss on the cached features gives the logged values and the DIRECT gradient D of parameters the loss uses
  // itself (logit scales, loss-side heads): every recomputation below includes D once more, so it is subtracted
  // (K - 1) times at the end. With cached rows constant, D has no path through the encoders.
  const { loss, parts, direct } = lossWithDirectGradient(model, supervision, cached, vars, rename);

  // 2. Per micro-batch: recompute with gradients, splice, full-batch loss, gradient; 3. sum.
  let acc: Record<string, tf.Tensor> = {};
  for (let j = 0; j < chunks; j++) {
    await turnEventLoopOnDevice();
    const start = j * micro;
    const { value, grads } = variableGradsFrugal(() => {
      const f = supervision.features(model, sliceBatch(batch, start, micro), { training: true, updateStats: false });
      const full: Record<string, tf.Tensor> = {};
      for (const [k, all] of Object.entries(cached)) {
        const mine = f[k];
        if (!mine)
          throw new Error(
            `gradient cache: supervision ${supervision.name} returned feature "${k}" in one pass but not the other`,
          );
        const rest = all.shape.slice(1).map(() => -1);
        const zeros = all.shape.slice(1).map(() => 0);
        const before = start > 0 ? [tf.slice(all, [0, ...zeros], [start, ...rest])] : [];
        const after = start + micro < B ? [tf.slice(all, [start + micro, ...zeros], [B - start - micro, ...rest])] : [];
        full[k] = tf.concat([...before, mine, ...after], 0);
      }
      return supervision.loss(full, model).total;
    }, vars);
    value.dispose();
    const named = rename(grads);
    const next: Record<string, tf.Tensor> = {};
    for (const [k, g] of Object.entries(named)) {
      if (acc[k]) {
        next[k] = tf.add(acc[k], g);
        acc[k].dispose();
        g.dispose();
      } else next[k] = g;
    }
    for (const [k, g] of Object.entries(acc)) if (!next[k]) next[k] = g;
    acc = next;
  }

  for (const [k, d] of Object.entries(direct)) {
    if (acc[k]) {
      const fixed = tf.tidy(() => tf.sub(acc[k], tf.mul(d, chunks - 1)));
      acc[k].dispose();
      acc[k] = fixed;
    }
    d.dispose();
  }
  for (const { variable, value } of bufferSnapshot) {
    variable.assign(value);
    value.dispose();
  }
  return { grads: acc, loss, parts, features: cached };
}

/** Global L2 norm of the gradients, as a scalar on the backend (nothing is read back). */
export function gradientNorm(grads: Record<string, tf.Tensor>): tf.Scalar {
  const list = Object.values(grads);
  if (list.length === 0) return tf.scalar(0);
  // squares summed one tensor at a time (not all squared copies of the gradients alive at once)
  const sums = list.map((g) => tf.tidy(() => tf.sum(tf.square(g))));
  try {
    return tf.tidy(() => tf.sqrt(tf.addN(sums))) as tf.Scalar;
  } finally {
    for (const s of sums) s.dispose();
  }
}
