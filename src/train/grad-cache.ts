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

export interface GradientsResult {
  /** Gradient per ParamStore name (only parameters the loss depends on). Caller disposes. */
  grads: Record<string, tf.Tensor>;
  /** Full-batch loss and parts (values). */
  loss: number;
  parts: Record<string, number>;
  /** Full-batch features (kept; caller disposes) for supervision.afterStep. */
  features: Record<string, tf.Tensor>;
}

export function sliceBatch(batch: TrainBatch, start: number, size: number): TrainBatch {
  const rows = <T extends tf.Tensor>(t: T): T =>
    tf.slice(t, [start, ...t.shape.slice(1).map(() => 0)], [size, ...t.shape.slice(1).map(() => -1)]) as T;
  const texts: TrainBatch['texts'] = {};
  for (const [k, t] of Object.entries(batch.texts) as Array<[keyof TrainBatch['texts'], tf.Tensor2D | undefined]>)
    if (t) texts[k] = rows(t);
  return { images: batch.images.map(rows), texts };
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

function scalars(parts: Record<string, tf.Scalar>): Record<string, number> {
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, v.dataSync()[0]]));
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
): { loss: number; parts: Record<string, number>; direct: Record<string, tf.Tensor> } {
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
  const loss = value.dataSync()[0];
  value.dispose();
  const parts = scalars(partTensors);
  for (const p of Object.values(partTensors)) p.dispose();
  return { loss, parts, direct };
}

/**
 * Loss, parts, gradients and features of one batch. With microBatchSize >= batch size (or 0) this is a single
 * forward/backward; otherwise the gradient cache above.
 */
export function computeGradients<M extends TrainableModel>(
  model: M,
  supervision: SupervisionLike<M>,
  batch: TrainBatch,
  microBatchSize: number,
): GradientsResult {
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
    const loss = value.dataSync()[0];
    value.dispose();
    const partValues = scalars(parts);
    for (const t of Object.values(parts)) t.dispose();
    return { grads: rename(grads), loss, parts: partValues, features };
  }

  if (B % micro !== 0) throw new Error(`gradient cache: batch of ${B} is not a multiple of the micro-batch ${micro}`);
  const chunks = B / micro;

  // 1. Features of the whole batch without gradients (this pass also updates BN running statistics once).
  const cached = tf.tidy(() => {
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
  const bufferSnapshot = model.store.buffers().map((e) => ({ variable: e.variable, value: tf.clone(e.variable) }));

  // The loss on the cached features gives the logged values and the DIRECT gradient D of parameters the loss uses
  // itself (logit scales, loss-side heads): every recomputation below includes D once more, so it is subtracted
  // (K - 1) times at the end. With cached rows constant, D has no path through the encoders.
  const { loss, parts, direct } = lossWithDirectGradient(model, supervision, cached, vars, rename);

  // 2. Per micro-batch: recompute with gradients, splice, full-batch loss, gradient; 3. sum.
  let acc: Record<string, tf.Tensor> = {};
  for (let j = 0; j < chunks; j++) {
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

/** Global L2 norm of the gradients (one read-back). */
export function gradientNorm(grads: Record<string, tf.Tensor>): number {
  const list = Object.values(grads);
  if (list.length === 0) return 0;
  // squares summed one tensor at a time (not all squared copies of the gradients alive at once)
  const sums = list.map((g) => tf.tidy(() => tf.sum(tf.square(g))));
  try {
    return tf.tidy(() => tf.sqrt(tf.addN(sums)).dataSync()[0]!);
  } finally {
    for (const s of sums) s.dispose();
  }
}
