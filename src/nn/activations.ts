// Activations used by the CLIP family.
import * as tf from '@tensorflow/tfjs';

/** QuickGELU (OpenAI CLIP, DeCLIP): x * sigmoid(1.702 x). */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)))) as T;
}

export function relu<T extends tf.Tensor>(x: T): T {
  return tf.relu(x);
}
