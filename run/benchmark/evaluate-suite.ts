// Runs a grid's evaluation suite on one model and returns CLIP_benchmark-shaped records, one per task and dataset.
// A task's hook may report `<dataset>/<metric>` keys (as pipeline evaluation hooks do) or bare metric names.
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { SuiteContext, SuiteTask } from './grid.ts';

export interface SuiteResult {
  task: SuiteTask['task'];
  dataset: string;
  metrics: Record<string, number>;
}

export async function evaluateSuite(suite: SuiteTask[], ctx: SuiteContext): Promise<SuiteResult[]> {
  const out: SuiteResult[] = [];
  for (const t of suite) {
    const raw = await t.evaluate(ctx);
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(raw)) {
      const slash = k.lastIndexOf('/');
      if (slash >= 0 && k.slice(0, slash) !== t.dataset) continue; // another dataset's number (a shared hook)
      metrics[slash >= 0 ? k.slice(slash + 1) : k] = v;
    }
    if (Object.keys(metrics).length === 0)
      throw new Error(
        `evaluation ${t.task} on ${t.dataset} returned no metrics for ${t.dataset} (got ${Object.keys(raw).join(', ') || 'nothing'})`,
      );
    out.push({ task: t.task, dataset: t.dataset, metrics });
  }
  return out;
}

/** The cell-level fields every record of a cell carries (they become CSV columns, as in CLIP_benchmark's build). */
export interface CellFields {
  cell: string;
  data: string;
  model: string;
  supervision: string;
  seed: number;
  step: number;
  samples_seen: number;
}

/** A CLIP_benchmark record: `model` is the model axis value, `pretrained` names the training that made the weights. */
export function toBenchmarkRecord(r: SuiteResult, cell: CellFields): BenchmarkResult {
  return {
    dataset: r.dataset,
    model: cell.model,
    pretrained: `${cell.data}_${cell.supervision}_s${cell.seed}@${cell.step}`,
    task: r.task,
    metrics: r.metrics,
    language: 'en',
    cell: cell.cell,
    data: cell.data,
    supervision: cell.supervision,
    seed: cell.seed,
    step: cell.step,
    samples_seen: cell.samples_seen,
  };
}
