// One score per evaluated model, as DataComp aggregates its 38 tasks: the mean over tasks of each task's main metric.
// Main metrics follow DataComp's task list: zero-shot classification counts top-1 accuracy (acc1), except the
// datasets whose classes are very unbalanced, where it counts mean per-class recall (Caltech-101, FGVC Aircraft,
// Oxford Flowers-102, Oxford-IIIT Pet); retrieval counts mean_recall@1 (the mean of image and text recall@1); the
// linear probe (not in DataComp) counts its top-1 accuracy (lp_acc1). A task may name its own main metric.
import type { BenchmarkResult, EvalTask } from './results.ts';

const perClassRecall =
  /(^|\/)(caltech[-_]?101|fgvc[-_]?aircraft|(oxford[-_]?)?flowers(102)?|(oxford[-_]?)?(iiit[-_]?)?pets)$/i;

/** The metric of a task that counts in the aggregate. */
export function mainMetric(task: EvalTask, dataset: string): string {
  switch (task) {
    case 'zeroshot_classification':
      return perClassRecall.test(dataset) ? 'mean_per_class_recall' : 'acc1';
    case 'zeroshot_retrieval':
      return 'mean_recall@1';
    case 'linear_probe':
      return 'lp_acc1';
  }
}

export interface AggregateScore {
  /** Mean of the main metrics (NaN when a task's main metric is missing or NaN). */
  score: number;
  tasks: Array<{ dataset: string; task: EvalTask; metric: string; value: number }>;
}

/** The aggregate of a model's results; each result's `main_metric` field (when present) names its metric. */
export function aggregateScore(results: BenchmarkResult[]): AggregateScore {
  if (results.length === 0) throw new Error('aggregate score: no results');
  const tasks = results.map((r) => {
    const metric = typeof r.main_metric === 'string' ? r.main_metric : mainMetric(r.task, r.dataset);
    const value = r.metrics[metric];
    return { dataset: r.dataset, task: r.task, metric, value: typeof value === 'number' ? value : Number.NaN };
  });
  return { score: tasks.reduce((a, t) => a + t.value, 0) / tasks.length, tasks };
}
