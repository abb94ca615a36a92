// Fully connected layer y = x W + b with W stored [in, out] (PyTorch stores [out, in]; the weights
// importer transposes). Any leading shape is allowed: inputs are flattened to 2-D so every backend uses
// a plain matMul (the fast path on wasm), then reshaped back.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from './params.ts';
import { normalInit, uniformInit, constantInit, torchDefaultBound } from './init.ts';
import { nativeOpsActive } from '../kernels/native-blas.ts';

export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [inDim, outDim] = weight.shape as [number, number];
    if (x.shape[x.rank - 1] !== inDim)
      throw new Error(`linear: input last dim ${x.shape[x.rank - 1]} != weight in-dim ${inDim}`);
    const lead = x.shape.slice(0, -1) as number[];
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : (x.reshape([-1, inDim]) as tf.Tensor2D);
    let y: tf.Tensor;
    // with the native BLAS the bias is added in place right after the product (same floats as the separate add)
    if (bias && nativeOpsActive()) y = tf.fused.matMul({ a: x2, b: weight as tf.Tensor2D, bias });
    else {
      y = tf.matMul(x2, weight as tf.Tensor2D);
      if (bias) y = tf.add(y, bias);
    }
    return x.rank === 2 ? y : y.reshape([...lead, outDim]);
  });
}

export interface LinearOptions {
  bias?: boolean; // default true
  /** Weight init: N(0, std) if given, else PyTorch default U(+-1/sqrt(in)). */
  std?: number;
  /** Bias init: 'zeros' or PyTorch default 'torch' (U(+-1/sqrt(in))). Default 'torch'. */
  biasInit?: 'zeros' | 'torch';
  trainable?: boolean;
}

export interface Linear {
  weight: tf.Variable;
  bias?: tf.Variable;
  apply(x: tf.Tensor): tf.Tensor;
}

/** Registers `${name}.weight` ([in, out]) and `${name}.bias` in the store. */
export function createLinear(
  store: ParamStore,
  name: string,
  inDim: number,
  outDim: number,
  rng: Rng,
  opts: LinearOptions = {},
): Linear {
  const bound = torchDefaultBound(inDim);
  const w =
    opts.std !== undefined ? normalInit(rng, [inDim, outDim], opts.std) : uniformInit(rng, [inDim, outDim], bound);
  const weight = store.add(`${name}.weight`, w, { kind: 'weight', torchLayout: 'linear', trainable: opts.trainable });
  let bias: tf.Variable | undefined;
  if (opts.bias ?? true) {
    const b = (opts.biasInit ?? 'torch') === 'zeros' ? constantInit([outDim], 0) : uniformInit(rng, [outDim], bound);
    bias = store.add(`${name}.bias`, b, { kind: 'bias', trainable: opts.trainable });
  }
  return { weight, bias, apply: (x) => linear(x, weight, bias) };
}
