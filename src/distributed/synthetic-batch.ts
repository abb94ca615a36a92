// Deterministic synthetic training batches for the data-parallel equivalence tests and bench/distributed.ts: the
// global batch of a step is a function of (seed, step) only, so a 1-rank run with the whole batch and an N-rank run
// where rank r takes the r-th contiguous slice see exactly the same samples — only the parallelism differs.
import * as tf from '@tensorflow/tfjs';
import { deriveRng } from '../rng.ts';
import type { TrainBatch } from '../train/contracts.ts';

export interface SyntheticBatchSpec {
  /** Samples in the GLOBAL batch. */
  size: number;
  imageViews: number;
  imageSize: number;
  contextLength: number;
  /** Token ids are drawn below vocabSize - 3; vocabSize - 2 / - 1 play SOT / EOT. */
  vocabSize: number;
}

/** Rows [start, start + count) of the global batch of `step` (images NHWC normal noise; captions SOT w1..w5 EOT pad). */
export function syntheticBatch(seed: number, step: number, spec: SyntheticBatchSpec, start = 0, count = spec.size): TrainBatch {
  const { size: n, imageSize: s, contextLength: ctx, vocabSize: vocab } = spec;
  if (start < 0 || count < 1 || start + count > n) throw new Error(`syntheticBatch: rows [${start}, ${start + count}) outside a batch of ${n}`);
  const rng = deriveRng(seed, 'synthetic-batch', step);
  const pixels = s * s * 3;
  const images = Array.from({ length: spec.imageViews }, () => Float32Array.from({ length: n * pixels }, () => rng.normal()));
  const textLen = Math.min(6, ctx - 1);
  const ids = () => Int32Array.from({ length: n * ctx }, (_, i) => {
    const p = i % ctx;
    return p === 0 ? vocab - 2 : p === textLen ? vocab - 1 : p > textLen ? 0 : 1 + rng.int(vocab - 4);
  });
  const raw = ids(); const eda = ids(); const mlm = ids();
  const labels = Int32Array.from({ length: n * ctx }, (_, i) => (i % ctx >= 1 && i % ctx < textLen && rng.bernoulli(0.4) ? 1 + rng.int(vocab - 4) : -100));
  const rows = <T extends Float32Array | Int32Array>(a: T, width: number): T => a.subarray(start * width, (start + count) * width) as T;
  const text = (a: Int32Array) => tf.tensor2d(rows(a, ctx), [count, ctx], 'int32');
  return {
    images: images.map((a) => tf.tensor4d(rows(a, pixels), [count, s, s, 3])),
    texts: { raw: text(raw), eda: text(eda), mlm: text(mlm), mlmLabels: text(labels) },
  };
}
