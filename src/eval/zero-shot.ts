// Zero-shot classification over a stream of prepared image batches: cosine scores against the prompt-ensemble
// classifier, then acc1 / acc5 / mean per-class recall (CLIP_benchmark's metrics) and every prediction
// (undefined when the stream held no image).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../models/clip.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { zeroShotClassifier, zeroShotScores } from './zero-shot-classifier.ts';
import { classificationMetrics, argmaxRows, topK, type ClassificationMetrics } from './classification-metrics.ts';

export interface LabelledBatch {
  pixels: Float32Array;
  n: number;
  size: number;
  items: Array<{ label: number }>;
}

export interface ZeroShotResult {
  metrics: ClassificationMetrics;
  predictions: Int32Array;
  /** Top-1 minus top-2 score per image (0 marks an exact tie). */
  margins: Float32Array;
  labels: Int32Array;
}

/** Score function [n, classes] for a batch; the default is global-embedding cosine similarity. */
export type BatchScorer = (images: tf.Tensor4D) => tf.Tensor2D;

export async function evaluateZeroShot(options: {
  model: ClipModel;
  tokenizer: ClipTokenizer;
  classes: readonly string[];
  templates: readonly string[];
  batches: AsyncIterable<LabelledBatch>;
  /** Replace the global-embedding scorer, e.g. FILIP's dense token-wise scoring. */
  scorer?: (classes: readonly string[], templates: readonly string[]) => { score: BatchScorer; dispose(): void };
  onProgress?: (imagesDone: number) => void;
}): Promise<ZeroShotResult | undefined> {
  const { model, tokenizer, classes, templates } = options;
  const custom = options.scorer?.(classes, templates);
  const classifier = custom ? undefined : zeroShotClassifier(model, tokenizer, classes, templates);
  const score: BatchScorer = custom ? custom.score : (images) => zeroShotScores(model, images, classifier!);
  const scores: Float32Array[] = [];
  const labels: number[] = [];
  let done = 0;
  try {
    for await (const b of options.batches) {
      const s = tf.tidy(() => score(tf.tensor4d(b.pixels, [b.n, b.size, b.size, 3])));
      scores.push(s.dataSync() as Float32Array);
      s.dispose();
      for (const item of b.items) labels.push(item.label);
      done += b.n;
      options.onProgress?.(done);
    }
  } finally {
    classifier?.dispose();
    custom?.dispose();
  }
  if (labels.length === 0) return undefined; // no image: the caller says why
  const c = classes.length;
  const all = new Float32Array(labels.length * c);
  let offset = 0;
  for (const s of scores) {
    all.set(s, offset);
    offset += s.length;
  }
  const predictions = argmaxRows(all, labels.length, c);
  const margins = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const [a, b] = topK(all, i * c, c, 2);
    margins[i] = b === undefined ? Infinity : all[i * c + a] - all[i * c + b];
  }
  return { metrics: classificationMetrics(all, labels, c), predictions, margins, labels: Int32Array.from(labels) };
}
