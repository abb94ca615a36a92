// 2-D convolution over NHWC images with HWIO filters (PyTorch stores OIHW; the weights importer converts).
// Padding is a symmetric number of pixels like PyTorch's `padding=`, not TensorFlow's 'same' (which pads
// asymmetrically for stride 2 and would not match PyTorch).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from './params.ts';
import { uniformInit, torchDefaultBound } from './init.ts';

export interface Conv2d {
  weight: tf.Variable;
  stride: number;
  padding: number;
  apply(x: tf.Tensor4D): tf.Tensor4D;
}

export function conv2d(x: tf.Tensor4D, weight: tf.Tensor4D, stride: number, padding: number): tf.Tensor4D {
  return tf.conv2d(x, weight, stride, padding === 0 ? 'valid' : padding);
}

/** Bias-free conv registered as `${name}.weight` [k, k, in, out]; PyTorch default init U(+-1/sqrt(in*k*k)). */
export function createConv2d(
  store: ParamStore,
  name: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
  rng: Rng,
  opts: { stride?: number; padding?: number; trainable?: boolean } = {},
): Conv2d {
  const w = uniformInit(
    rng,
    [kernel, kernel, inChannels, outChannels],
    torchDefaultBound(inChannels * kernel * kernel),
  );
  const weight = store.add(`${name}.weight`, w, { kind: 'weight', torchLayout: 'conv', trainable: opts.trainable });
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? 0;
  return { weight, stride, padding, apply: (x) => conv2d(x, weight as tf.Tensor as tf.Tensor4D, stride, padding) };
}
