// Frozen image features for linear probes: the L2-normalised image embedding of every image (eval transform),
// with the items' labels, cached on disk as safetensors so a sweep or a rerun does not re-encode.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { stat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClipModel } from '../models/clip.ts';
import { l2Normalize } from '../nn/l2-normalize.ts';
import { readSafetensors, writeSafetensors, toFloat32, toInt32 } from '../weights/safetensors.ts';
import type { LabelledBatch } from './zero-shot.ts';
import type { Features } from './logistic-regression.ts';

export interface LabelledFeatures extends Features {
  labels: Int32Array;
}

export async function encodeImageFeatures(
  model: ClipModel,
  batches: AsyncIterable<LabelledBatch>,
  options: { normalize?: boolean } = {},
): Promise<LabelledFeatures> {
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  let dim = 0;
  for await (const b of batches) {
    const e = tf.tidy(() => {
      const embedding = model.encodeImage(tf.tensor4d(b.pixels, [b.n, b.size, b.size, 3]), {
        training: false,
      }).embedding;
      return options.normalize === false ? embedding : l2Normalize(embedding);
    });
    dim = e.shape[1];
    parts.push((await e.data()) as Float32Array);
    e.dispose();
    for (const item of b.items) labels.push(item.label);
  }
  const data = new Float32Array(labels.length * dim);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return { data, n: labels.length, dim, labels: Int32Array.from(labels) };
}

/** A cache key from everything the features depend on (weights file identity, dataset, transform). */
export async function featureCacheKey(weightsFile: string, parts: Array<string | number>): Promise<string> {
  const info = await stat(weightsFile);
  return createHash('sha256')
    .update(JSON.stringify([weightsFile, info.size, info.mtimeMs, ...parts]))
    .digest('hex')
    .slice(0, 16);
}

export async function cachedFeatures(
  dir: string | undefined,
  key: string,
  compute: () => Promise<LabelledFeatures>,
): Promise<{ features: LabelledFeatures; cached: boolean }> {
  if (!dir) return { features: await compute(), cached: false };
  const path = join(dir, `features-${key}.safetensors`);
  const existing = await readSafetensors(path).catch(() => undefined);
  if (existing) {
    const f = existing.tensors.get('features'),
      l = existing.tensors.get('labels');
    if (f && l)
      return { features: { data: toFloat32(f), n: f.shape[0], dim: f.shape[1], labels: toInt32(l) }, cached: true };
  }
  const features = await compute();
  await mkdir(dir, { recursive: true });
  await writeSafetensors(path, {
    features: { shape: [features.n, features.dim], data: features.data },
    labels: { shape: [features.n], data: features.labels },
  });
  return { features, cached: false };
}
