// Activations used by the CLIP family.
import * as tf from '@tensorflow/tfjs';
import { fusedQuickGelu, hasFusedQuickGelu } from '../kernels/quick-gelu.ts';

/** QuickGELU (OpenAI CLIP, DeCLIP): x * sigmoid(1.702 x). One fused kernel where available (src/kernels/quick-gelu.ts). */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  if (hasFusedQuickGelu()) return fusedQuickGelu(x);
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)))) as T;
}

export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}
