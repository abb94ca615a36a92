// Batch normalisation (PyTorch nn.BatchNorm1d/2d semantics) for [B, C] or NHWC [B, H, W, C] inputs.
//
// training: normalise with the batch's biased statistics; eval: with the running statistics.
// Running statistics are 'buffer' entries of the ParamStore ("<name>.running_mean", "<name>.running_var",
// "<name>.num_batches_tracked"), updated like PyTorch: r <- (1 - momentum) r + momentum * s, with the UNBIASED
// batch variance for running_var, and num_batches_tracked += 1.
//
// Ghost batch norm (`ghostSize: N`): in training, statistics are computed per consecutive chunk of N samples
// (the last chunk may be smaller), reproducing per-GPU BN of the multi-GPU reference on one device. The running
// statistics then move towards the mean over chunks of the chunk statistics.
//
// Updating running statistics inside tf.grads / tf.variableGrads is safe: the update is an ordinary
// `variable.assign` of tensors computed from the batch statistics; the loss does not depend on them, so the tape
// never back-propagates into them, and assign keeps the new data alive when the gradient scope is disposed.
// Callers that run the same batch twice (gradient caching: a no-grad pass, then per-chunk passes with gradients)
// should pass `updateStats: false` on one of the passes so the statistics move once per step.
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params.ts';

export interface BatchNormOptions {
  eps?: number; // 1e-5
  momentum?: number; // 0.1
  ghostSize?: number; // statistics per chunk of this many samples (training only)
  /** Initialise gamma to zero (CLIP ResNet bottleneck bn3). */
  zeroInitGamma?: boolean;
}

export interface BatchNormCallOptions {
  training: boolean;
  /** Update running statistics in training mode (default true). */
  updateStats?: boolean;
}

export interface BatchNorm {
  weight: tf.Variable;
  bias: tf.Variable;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  numBatchesTracked: tf.Variable;
  options: Required<Omit<BatchNormOptions, 'ghostSize'>> & { ghostSize?: number };
  apply(x: tf.Tensor, call: BatchNormCallOptions): tf.Tensor;
}

export function createBatchNorm(
  store: ParamStore,
  name: string,
  channels: number,
  options: BatchNormOptions = {},
): BatchNorm {
  const opts = {
    eps: options.eps ?? 1e-5,
    momentum: options.momentum ?? 0.1,
    zeroInitGamma: options.zeroInitGamma ?? false,
    ghostSize: options.ghostSize,
  };
  if (opts.ghostSize !== undefined && !(Number.isInteger(opts.ghostSize) && opts.ghostSize > 0)) {
    throw new Error(`batchNorm ${name}: ghostSize must be a positive integer, got ${opts.ghostSize}`);
  }
  const weight = store.add(`${name}.weight`, opts.zeroInitGamma ? tf.zeros([channels]) : tf.ones([channels]), {
    kind: 'norm',
  });
  const bias = store.add(`${name}.bias`, tf.zeros([channels]), { kind: 'norm' });
  const runningMean = store.add(`${name}.running_mean`, tf.zeros([channels]), { kind: 'buffer' });
  const runningVar = store.add(`${name}.running_var`, tf.ones([channels]), { kind: 'buffer' });
  const numBatchesTracked = store.add(`${name}.num_batches_tracked`, tf.scalar(0, 'int32'), { kind: 'buffer' });
  const bn: BatchNorm = {
    weight,
    bias,
    runningMean,
    runningVar,
    numBatchesTracked,
    options: opts,
    apply: (x, call) => batchNorm(x, bn, call),
  };
  return bn;
}

/**
 * Mean and biased variance per chunk: returns normalised x plus per-chunk stats ([chunks, C]) and samples per chunk.
 */
function normaliseChunk(x: tf.Tensor, eps: number): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const axes = [...Array(x.rank - 1).keys()];
  const { mean, variance } = tf.moments(x, axes, false);
  const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return { y, mean, variance };
}

export function batchNorm(x: tf.Tensor, bn: BatchNorm, call: BatchNormCallOptions): tf.Tensor {
  const { eps, momentum, ghostSize } = bn.options;
  const channels = bn.weight.shape[0];
  if (x.shape[x.rank - 1] !== channels)
    throw new Error(`batchNorm: expected ${channels} channels (last axis), got shape [${x.shape}]`);
  if (!call.training) {
    return tf.tidy(() =>
      tf.add(tf.mul(tf.mul(tf.sub(x, bn.runningMean), tf.rsqrt(tf.add(bn.runningVar, eps))), bn.weight), bn.bias),
    );
  }
  const batch = x.shape[0];
  const perSample = x.size / batch / channels; // spatial positions per sample
  const chunk = ghostSize !== undefined && ghostSize < batch ? ghostSize : batch;
  return tf.tidy(() => {
    const normed: tf.Tensor[] = [];
    const means: tf.Tensor[] = [];
    const vars: tf.Tensor[] = [];
    const counts: number[] = [];
    for (let start = 0; start < batch; start += chunk) {
      const n = Math.min(chunk, batch - start);
      const part = chunk === batch ? x : tf.slice(x, start, n);
      const r = normaliseChunk(part, eps);
      normed.push(r.y);
      means.push(r.mean);
      vars.push(r.variance);
      counts.push(n * perSample);
    }
    const y = normed.length === 1 ? normed[0] : tf.concat(normed, 0);
    if (call.updateStats ?? true) {
      const meanOfMeans = tf.div(tf.addN(means), means.length);
      const unbiased = vars.map((v, i) => tf.mul(v, counts[i] > 1 ? counts[i] / (counts[i] - 1) : 1));
      const meanOfVars = tf.div(tf.addN(unbiased), unbiased.length);
      bn.runningMean.assign(tf.add(tf.mul(bn.runningMean, 1 - momentum), tf.mul(meanOfMeans, momentum)));
      bn.runningVar.assign(tf.add(tf.mul(bn.runningVar, 1 - momentum), tf.mul(meanOfVars, momentum)));
      bn.numBatchesTracked.assign(tf.add(bn.numBatchesTracked, tf.scalar(1, 'int32')));
    }
    return tf.add(tf.mul(y, bn.weight), bn.bias);
  });
}
