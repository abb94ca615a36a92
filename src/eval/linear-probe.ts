// Linear probe on frozen features: choose the L2 penalty on a validation split (L-BFGS logistic regression,
// sweepL2), refit on train + validation with it, report test metrics with CLIP_benchmark's lp_* keys.
import { Rng } from '../rng.ts';
import { classificationMetrics } from './classification-metrics.ts';
import { fitLogisticRegression, predictScores, sweepL2 } from './logistic-regression.ts';
import type { LabelledFeatures } from './image-features.ts';

/** Rows of `f` at `indices`. */
export function selectRows(f: LabelledFeatures, indices: ArrayLike<number>): LabelledFeatures {
  const data = new Float32Array(indices.length * f.dim),
    labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    data.set(f.data.subarray(r * f.dim, (r + 1) * f.dim), i * f.dim);
    labels[i] = f.labels[r];
  }
  return { data, n: indices.length, dim: f.dim, labels };
}

/** A seeded random partition of [0, n) into parts of the given proportions (the last takes the remainder). */
export function splitIndices(n: number, proportions: number[], seed: number): Int32Array[] {
  const order = new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => i));
  const out: Int32Array[] = [];
  let start = 0;
  proportions.forEach((p, k) => {
    const end = k === proportions.length - 1 ? n : start + Math.round(p * n);
    out.push(Int32Array.from(order.slice(start, end)));
    start = end;
  });
  return out;
}

export interface LinearProbeResult {
  metrics: { lp_acc1: number; lp_acc5: number; lp_mean_per_class_recall: number; weight_decay: number };
  sweep: Array<{ lambda: number; valAcc1: number }>;
}

export function linearProbe(
  train: LabelledFeatures,
  val: LabelledFeatures,
  test: LabelledFeatures,
  classes: number,
  options: { maxIterations?: number } = {},
): LinearProbeResult {
  if (train.n === 0 || val.n === 0 || test.n === 0)
    throw new Error(`linear probe: empty split (train ${train.n}, val ${val.n}, test ${test.n})`);
  const { best, tried } = sweepL2(train, train.labels, val, val.labels, classes, options);
  const both: LabelledFeatures = {
    data: concat(train.data, val.data),
    n: train.n + val.n,
    dim: train.dim,
    labels: Int32Array.from([...train.labels, ...val.labels]),
  };
  const model = fitLogisticRegression(both, both.labels, classes, best.lambda, { ...options, init: best });
  const m = classificationMetrics(predictScores(model, test), test.labels, classes);
  return {
    metrics: {
      lp_acc1: m.acc1,
      lp_acc5: m.acc5,
      lp_mean_per_class_recall: m.mean_per_class_recall,
      weight_decay: best.lambda,
    },
    sweep: tried,
  };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
