// Host arrays of a group of samples -> the TrainBatch tensors of one step: one NHWC float32 tensor per image view
// (views must agree in size across the batch) and one int32 [n, context] tensor per text view.
import * as tf from '@tensorflow/tfjs';
import type { TrainBatch } from './contracts.ts';

export type TextKey = 'raw' | 'eda' | 'mlm' | 'mlmLabels';

export interface HostSample {
  __key__: string;
  __url__: string;
  views: Array<{ data: Float32Array; height: number; width: number }>;
  text: Partial<Record<TextKey, Int32Array>>;
}

export function assembleTrainBatch(samples: HostSample[], imageViews: number, textKeys: TextKey[]): TrainBatch {
  const n = samples.length;
  if (n === 0) throw new Error('assembleTrainBatch: empty batch');
  const images: tf.Tensor4D[] = [];
  for (let v = 0; v < imageViews; v++) {
    const first = samples[0].views[v];
    if (!first)
      throw new Error(
        `assembleTrainBatch: sample ${samples[0].__key__} has ${samples[0].views.length} image views, ` +
          `expected ${imageViews}`,
      );
    const { height, width } = first;
    const per = height * width * 3;
    const data = new Float32Array(n * per);
    samples.forEach((s, i) => {
      const view = s.views[v];
      if (!view || view.height !== height || view.width !== width || view.data.length !== per) {
        throw new Error(
          `assembleTrainBatch: view ${v} of sample ${s.__key__} is ` +
            `${view ? `${view.height}x${view.width}` : 'missing'}, expected ${height}x${width}x3`,
        );
      }
      data.set(view.data, i * per);
    });
    images.push(tf.tensor4d(data, [n, height, width, 3], 'float32'));
  }
  const texts: TrainBatch['texts'] = {};
  for (const key of textKeys) {
    const first = samples[0].text[key];
    if (!first) throw new Error(`assembleTrainBatch: sample ${samples[0].__key__} has no "${key}" tokens`);
    const ctx = first.length;
    const ids = new Int32Array(n * ctx);
    samples.forEach((s, i) => {
      const row = s.text[key];
      if (!row || row.length !== ctx)
        throw new Error(
          `assembleTrainBatch: "${key}" tokens of sample ${s.__key__} have length ${row?.length}, expected ${ctx}`,
        );
      ids.set(row, i * ctx);
    });
    texts[key] = tf.tensor2d(ids, [n, ctx], 'int32');
  }
  return { images, texts };
}

/** The identity of a sample across stages (shard URL + key). */
export const sampleId = (s: { __url__: string; __key__: string }) => `${s.__url__}\u0000${s.__key__}`;
