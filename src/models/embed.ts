// L2-normalised CLIP embeddings for batches of prepared inputs (no gradient, eval mode).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from './clip.ts';

import { l2Normalize } from '../nn/l2-normalize.ts';

/** Unit rows of x, read back asynchronously (works on GPU backends); x is disposed. */
async function normalizedRows(x: tf.Tensor2D): Promise<Float32Array> {
  const unit = tf.tidy(() => l2Normalize(x));
  x.dispose();
  try {
    return (await unit.data()) as Float32Array;
  } finally {
    unit.dispose();
  }
}

/** pixels: n NHWC images at the model's resolution, normalised; returns n x embedDim row-major, unit rows. */
export function imageEmbeddings(model: ClipModel, pixels: Float32Array, n: number): Promise<Float32Array> {
  const s = model.config.vision.imageSize;
  return normalizedRows(
    tf.tidy(() => model.encodeImage(tf.tensor4d(pixels, [n, s, s, 3]), { training: false }).embedding),
  );
}

/** ids: n x contextLength int32 row-major; returns n x embedDim row-major, unit rows. */
export function textEmbeddings(model: ClipModel, ids: Int32Array, n: number): Promise<Float32Array> {
  const ctx = model.config.text.contextLength;
  return normalizedRows(
    tf.tidy(() => model.encodeText(tf.tensor2d(ids, [n, ctx], 'int32'), { training: false }).embedding),
  );
}
