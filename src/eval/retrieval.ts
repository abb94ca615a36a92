// Image-text retrieval: encode every image (eval transform) and every caption, L2-normalise, score all pairs
// by cosine similarity, and report text/image retrieval recall@k (CLIP_benchmark's keys) and their mean
// (mean_recall@k, DataComp's main retrieval metric at k = 1). Undefined when the stream held no image.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../models/clip.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { l2Normalize } from '../nn/l2-normalize.ts';
import { retrievalMetrics } from './retrieval-metrics.ts';

export interface CaptionedBatch {
  pixels: Float32Array;
  n: number;
  size: number;
  items: Array<{ captions: string[] }>;
}

export interface RetrievalResult {
  metrics: Record<string, number>;
  images: number;
  texts: number;
}

export async function evaluateRetrieval(options: {
  model: ClipModel;
  tokenizer: ClipTokenizer;
  batches: AsyncIterable<CaptionedBatch>;
  ks?: number[];
  textBatchSize?: number;
  onProgress?: (imagesDone: number) => void;
}): Promise<RetrievalResult | undefined> {
  const { model, tokenizer } = options;
  const imageEmbeddings: tf.Tensor2D[] = [];
  const captions: string[] = [];
  const textImage: number[] = [];
  let images = 0;
  try {
    for await (const b of options.batches) {
      imageEmbeddings.push(
        tf.tidy(() =>
          l2Normalize(
            model.encodeImage(tf.tensor4d(b.pixels, [b.n, b.size, b.size, 3]), { training: false }).embedding,
          ),
        ),
      );
      for (const item of b.items) {
        if (item.captions.length === 0) throw new Error(`retrieval: image ${images} has no captions`);
        for (const c of item.captions) {
          if (c.trim() === '') throw new Error(`retrieval: image ${images} has an empty caption (not a usable query)`);
          captions.push(c);
          textImage.push(images);
        }
        images++;
      }
      options.onProgress?.(images);
    }
    if (images === 0) return undefined;
    const step = options.textBatchSize ?? 256;
    const textEmbeddings: tf.Tensor2D[] = [];
    for (let s = 0; s < captions.length; s += step) {
      const chunk = captions.slice(s, s + step);
      textEmbeddings.push(
        tf.tidy(() =>
          l2Normalize(
            model.encodeText(
              tf.tensor2d(tokenizer.encodeBatch(chunk), [chunk.length, tokenizer.contextLength], 'int32'),
              { training: false },
            ).embedding,
          ),
        ),
      );
    }
    const similarity = tf.tidy(() =>
      tf.matMul(tf.concat(imageEmbeddings, 0), tf.concat(textEmbeddings, 0), false, true),
    );
    const values = similarity.dataSync();
    similarity.dispose();
    tf.dispose(textEmbeddings);
    return {
      metrics: retrievalMetrics(values, images, textImage, options.ks ?? [1, 5, 10]),
      images,
      texts: captions.length,
    };
  } finally {
    tf.dispose(imageEmbeddings);
  }
}
