// Layer normalisation over the last axis (PyTorch nn.LayerNorm, eps 1e-5, biased variance).
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params.ts';
import { hasFusedLayerNorm, layerNorm as fusedLayerNorm } from '../kernels/layer-norm.ts';

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  // one fused kernel forward and one backward on wasm/cpu (src/kernels/layer-norm.ts); the ops below elsewhere
  if (hasFusedLayerNorm()) return fusedLayerNorm(x, gamma, beta, eps);
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normed, gamma), beta);
  });
}

export interface LayerNorm {
  weight: tf.Variable;
  bias: tf.Variable;
  apply(x: tf.Tensor): tf.Tensor;
}

/** Registers `${name}.weight` (ones) and `${name}.bias` (zeros), kind 'norm' (no weight decay). */
export function createLayerNorm(store: ParamStore, name: string, dim: number, eps = 1e-5): LayerNorm {
  const weight = store.add(`${name}.weight`, tf.ones([dim]), { kind: 'norm' });
  const bias = store.add(`${name}.bias`, tf.zeros([dim]), { kind: 'norm' });
  return { weight, bias, apply: (x) => layerNorm(x, weight, bias, eps) };
}
