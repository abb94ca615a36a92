// Multi-head scaled dot-product attention, written for the wasm backend's fast paths:
// the packed q/k/v projection is split with tf.split and heads are formed with 4-D transposes
// ([B,T,H,D] -> [B,H,T,D]); a rank-5 transpose would be ~100 ms on wasm. Scores and the weighted sum are
// batched matMuls over [B, H].
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from './params.ts';
import { linear } from './linear.ts';
import { normalInit, constantInit } from './init.ts';
import { fusedSelfAttention, hasFusedAttention } from '../kernels/attention.ts';

/** [B, T, W] -> [B, H, T, W/H] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, w] = x.shape;
  if (w % heads !== 0) throw new Error(`attention: width ${w} is not divisible by ${heads} heads`);
  return tf.transpose(tf.reshape(x, [b, t, heads, w / heads]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, H, T, D] -> [B, T, H*D] */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [b, h, t, d] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * d]) as tf.Tensor3D;
}

/**
 * softmax(q k^T / sqrt(D) + mask) v for q [B,H,Tq,D], k/v [B,H,Tk,D]; mask is additive, broadcastable to [B,H,Tq,Tk]
 * (0 = keep, large negative = drop). Returns [B,H,Tq,D].
 */
export function attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask?: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const scale = 1 / Math.sqrt(q.shape[3]);
    let scores = tf.matMul(tf.mul(q, scale) as tf.Tensor4D, k, false, true);
    if (mask) scores = tf.add(scores, mask);
    return tf.matMul(tf.softmax(scores, -1), v) as tf.Tensor4D;
  });
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above (OpenAI CLIP text: -inf). */
export function causalMask(t: number): tf.Tensor2D {
  const data = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) data[i * t + j] = -1e9;
  return tf.tensor2d(data, [t, t]);
}

export interface AttentionParams {
  inProjWeight: tf.Tensor; // [W, 3W] (q | k | v columns)
  inProjBias: tf.Tensor; // [3W]
  outProjWeight: tf.Tensor; // [W, W]
  outProjBias: tf.Tensor; // [W]
}

/** Self-attention as PyTorch nn.MultiheadAttention(W, heads) on [B, T, W] (batch first). */
export function multiHeadAttention(x: tf.Tensor3D, p: AttentionParams, heads: number, mask?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const qkv = linear(x, p.inProjWeight, p.inProjBias);
    // one kernel each way on the packed projection where the native BLAS runs (src/kernels/attention.ts)
    if (hasFusedAttention(qkv, mask))
      return linear(fusedSelfAttention(qkv as tf.Tensor3D, heads, mask), p.outProjWeight, p.outProjBias) as tf.Tensor3D;
    const [q, k, v] = tf.split(qkv, 3, -1);
    const out = attend(splitHeads(q, heads), splitHeads(k, heads), splitHeads(v, heads), mask);
    return linear(mergeHeads(out), p.outProjWeight, p.outProjBias) as tf.Tensor3D;
  });
}

export interface MultiHeadAttention extends AttentionParams {
  heads: number;
  apply(x: tf.Tensor3D, mask?: tf.Tensor): tf.Tensor3D;
}

/**
 * Registers OpenAI names `${name}.in_proj_weight`, `${name}.in_proj_bias`, `${name}.out_proj.weight`,
 * `${name}.out_proj.bias`. Init (CLIP): in_proj N(0, inStd), out_proj N(0, outStd), biases zero. Seed quirk kept:
 * in_proj_bias IS weight-decayed (nn.MultiheadAttention is not an nn.Linear, so the reference's bias rule misses it);
 * out_proj.bias is not.
 */
export function createMultiHeadAttention(
  store: ParamStore,
  name: string,
  width: number,
  heads: number,
  rng: Rng,
  init: { inStd: number; outStd: number },
): MultiHeadAttention {
  const inProjWeight = store.add(`${name}.in_proj_weight`, normalInit(rng, [width, 3 * width], init.inStd), {
    kind: 'weight',
    torchLayout: 'linear',
  });
  const inProjBias = store.add(`${name}.in_proj_bias`, constantInit([3 * width], 0), { kind: 'bias', decay: true });
  const outProjWeight = store.add(`${name}.out_proj.weight`, normalInit(rng, [width, width], init.outStd), {
    kind: 'weight',
    torchLayout: 'linear',
  });
  const outProjBias = store.add(`${name}.out_proj.bias`, constantInit([width], 0), { kind: 'bias' });
  const p = { inProjWeight, inProjBias, outProjWeight, outProjBias };
  return { ...p, heads, apply: (x, mask) => multiHeadAttention(x, p, heads, mask) };
}
