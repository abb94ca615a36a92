// Classification metrics as CLIP_benchmark reports them: acc1, acc5 (NaN with fewer than 5 classes) and
// mean per-class recall (sklearn's balanced_accuracy_score). Scores are row-major [n, classes].
// Ties are broken towards the lower class index (as torch.topk / argmax do for equal values in practice).

export interface ClassificationMetrics {
  acc1: number;
  acc5: number;
  mean_per_class_recall: number;
}

/** Indices of the k largest scores of one row, best first; ties go to the lower index. */
export function topK(scores: ArrayLike<number>, offset: number, length: number, k: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < length; j++) {
    const v = scores[offset + j];
    let pos = best.length;
    while (pos > 0 && scores[offset + best[pos - 1]] < v) pos--;
    if (pos < k) {
      best.splice(pos, 0, j);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

/** Predicted class (argmax, lowest index on ties) for every row. */
export function argmaxRows(scores: ArrayLike<number>, n: number, classes: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = topK(scores, i * classes, classes, 1)[0];
  return out;
}

export function classificationMetrics(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
): ClassificationMetrics {
  const n = labels.length;
  if (n === 0) throw new Error('classificationMetrics: no samples');
  if (scores.length !== n * classes)
    throw new Error(`classificationMetrics: scores has ${scores.length} values, expected ${n} x ${classes}`);
  let top1 = 0,
    top5 = 0;
  const hits = new Float64Array(classes),
    support = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!(label >= 0 && label < classes))
      throw new Error(`classificationMetrics: label ${label} of sample ${i} is outside [0, ${classes})`);
    const best = topK(scores, i * classes, classes, Math.min(5, classes));
    support[label]++;
    if (best[0] === label) {
      top1++;
      hits[label]++;
    }
    if (best.includes(label)) top5++;
  }
  let recallSum = 0,
    present = 0;
  for (let c = 0; c < classes; c++)
    if (support[c] > 0) {
      recallSum += hits[c] / support[c];
      present++;
    }
  return { acc1: top1 / n, acc5: classes < 5 ? Number.NaN : top5 / n, mean_per_class_recall: recallSum / present };
}
