// Activations used by the CLIP family.
import * as tf from '@tensorflow/tfjs';

/** Fused QuickGELU kernels (forward, backward) where a backend has them (src/webgpu/quick-gelu-kernel.ts). */
export const QUICK_GELU = 'ClipBenchQuickGelu';
export const QUICK_GELU_GRAD = 'ClipBenchQuickGeluGrad';

/** QuickGELU (OpenAI CLIP, DeCLIP): x * sigmoid(1.702 x). */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  if (tf.getKernel(QUICK_GELU, tf.getBackend())) return tf.engine().runKernel(QUICK_GELU, { x }, {}) as T;
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)))) as T;
}

export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}
