// Deterministic parameter initialisers drawing from an Rng (never Math.random), matching PyTorch's defaults
// where the reference relies on them: nn.Linear / nn.Conv2d use kaiming_uniform(a=sqrt 5) = U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) for the weight and the same bound for the bias.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * N(mean, std) by Box-Muller on 32-bit uniforms drawn straight from the Rng (two uint32 per pair of normals;
 * ~3x faster than Rng.normal, which matters for the 150M draws of ViT-B/32).
 */
export function normalInit(rng: Rng, shape: number[], std: number, mean = 0): tf.Tensor {
  const data = new Float32Array(sizeOf(shape));
  const twoPi = 2 * Math.PI;
  const inv = 1 / 4294967296;
  for (let i = 0; i < data.length; i += 2) {
    const u = (rng.nextUint32() + 0.5) * inv; // (0, 1): log is finite
    const v = rng.nextUint32() * inv;
    const r = std * Math.sqrt(-2 * Math.log(u));
    data[i] = mean + r * Math.cos(twoPi * v);
    if (i + 1 < data.length) data[i + 1] = mean + r * Math.sin(twoPi * v);
  }
  return tf.tensor(data, shape, 'float32');
}

export function uniformInit(rng: Rng, shape: number[], bound: number): tf.Tensor {
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
  return tf.tensor(data, shape, 'float32');
}

export function constantInit(shape: number[], value: number): tf.Tensor {
  return tf.fill(shape, value, 'float32');
}

/** PyTorch's default bound for Linear/Conv weights and biases: 1/sqrt(fan_in). */
export function torchDefaultBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}
