// Test helper: a computeGradients result with its loss and parts read into numbers (their tensors disposed).
import type * as tf from '@tensorflow/tfjs';
import type { GradientsResult } from '../../src/train/grad-cache.ts';

export interface ReadGradients {
  grads: Record<string, tf.Tensor>;
  features: Record<string, tf.Tensor>;
  loss: number;
  parts: Record<string, number>;
}

export async function readLoss(pending: Promise<GradientsResult> | GradientsResult): Promise<ReadGradients> {
  const r = await pending;
  const loss = (await r.loss.data())[0]!;
  const parts: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.parts)) parts[k] = (await v.data())[0]!;
  r.loss.dispose();
  for (const v of Object.values(r.parts)) v.dispose();
  return { grads: r.grads, features: r.features, loss, parts };
}
