// F.normalize: x / max(||x||, eps) over the last axis (embeddings before cosine similarities).
import * as tf from '@tensorflow/tfjs';

export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), eps))) as T;
}
