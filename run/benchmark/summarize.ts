// From the finished cells of a grid to the numbers of the benchmark table: per (data, model, supervision)
// combination the seeds' main metric for every suite task (and their DataComp-style average), mean ± std over
// seeds (the average over tasks is DataComp's aggregate: the mean of the main metrics), deltas against each axis's
// baseline with Welch's t-test over seeds, average ranks of the methods.
import { mean, sampleStd, welchTTest, averageRanks } from '../../src/report/seed-statistics.ts';
import { mainMetric } from '../../src/eval/aggregate-score.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { AxisName, ExpandedGrid } from './expand-grid.ts';
import type { CellRecord } from './run-cell.ts';

/** Significance level of the seed-noise test. */
export const NOISE_ALPHA = 0.05;

/** The number a record is ranked by: its main metric (DataComp's choice per task and dataset, or the task's own). */
export function mainValue(r: BenchmarkResult): number {
  const metric = typeof r.main_metric === 'string' ? r.main_metric : mainMetric(r.task, r.dataset);
  const v = r.metrics[metric];
  return typeof v === 'number' ? v : NaN;
}

const METRIC_LABEL: Record<string, string> = {
  acc1: 'top-1',
  mean_per_class_recall: 'mean per-class recall',
  'mean_recall@1': 'mean recall@1',
  lp_acc1: 'linear-probe top-1',
};

export interface Column {
  id: string;
  task: string;
  dataset: string;
  label: string;
}

export interface Combination {
  data: string;
  model: string;
  supervision: string;
  seeds: number[];
  /** column id -> one value per seed (same order as `seeds`), at the end of training and at step 0. */
  final: Record<string, number[]>;
  initial: Record<string, number[]>;
  trainMs: number[];
  evalMs: number[];
}

export interface Delta {
  axis: AxisName;
  value: string;
  baseline: string;
  combination: Combination;
  against: Combination;
  column: string;
  diff: number;
  /** undefined when a side has fewer than 2 seeds (no test possible). */
  p?: number;
  withinNoise?: boolean;
}

export interface Summary {
  grid: ExpandedGrid;
  columns: Column[];
  /** Columns plus the average over tasks when the suite has more than one task. */
  allColumns: Column[];
  combinations: Combination[];
  chance: Record<string, number | undefined>;
  finished: CellRecord[];
  missing: string[];
  deltas: Delta[];
  /** column id -> supervision -> average rank over the (data, model) columns of that task. */
  ranks: Record<string, Record<string, number>>;
  /** supervision -> average rank over every (data, model, task). */
  overallRanks: Record<string, number>;
}

export const comboKey = (c: { data: string; model: string; supervision: string }) =>
  `${c.data}|${c.model}|${c.supervision}`;

export function summarize(grid: ExpandedGrid, records: Map<string, CellRecord>): Summary {
  const columns: Column[] = grid.suite.tasks.map((t) => {
    const metric = t.mainMetric ?? mainMetric(t.task, t.dataset);
    return {
      id: `${t.task}:${t.dataset}`,
      task: t.task,
      dataset: t.dataset,
      label: `${t.dataset} ${METRIC_LABEL[metric] ?? metric}`,
    };
  });
  const average: Column = { id: 'average', task: 'average', dataset: 'average', label: 'average' };
  const allColumns = columns.length > 1 ? [...columns, average] : columns;
  const byCombo = new Map<string, Combination>();
  const chance: Record<string, number | undefined> = {};
  const finished: CellRecord[] = [];
  const missing: string[] = [];
  for (const cell of grid.cells) {
    const r = records.get(cell.key);
    if (!r) {
      missing.push(cell.key);
      continue;
    }
    finished.push(r);
    const k = comboKey(cell.axes);
    let c = byCombo.get(k);
    if (!c) {
      c = { ...cell.axes, seeds: [], final: {}, initial: {}, trainMs: [], evalMs: [] };
      delete (c as { seed?: number }).seed;
      byCombo.set(k, c);
    }
    c.seeds.push(cell.axes.seed);
    c.trainMs.push(r.trainMs);
    c.evalMs.push(r.evalMs);
    for (const [target, step] of [
      [c.final, r.steps],
      [c.initial, 0],
    ] as const) {
      const at = r.results.filter((x: BenchmarkResult) => x.step === step);
      const values: number[] = [];
      for (const col of columns) {
        const hit = at.find((x) => x.task === col.task && x.dataset === col.dataset);
        const v = hit ? mainValue(hit) : NaN;
        (target[col.id] ??= []).push(v);
        values.push(v);
        if (hit?.task === 'zeroshot_classification' && typeof hit.classes === 'number')
          chance[col.id] = 1 / hit.classes;
      }
      if (columns.length > 1) (target.average ??= []).push(mean(values));
    }
  }
  const combinations = [...byCombo.values()];
  const find = (c: { data: string; model: string; supervision: string }) => byCombo.get(comboKey(c));

  const deltas: Delta[] = [];
  for (const axis of ['supervision', 'data', 'model'] as const) {
    const baseline = grid.baseline[axis];
    if (grid.values[axis].length < 2) continue;
    for (const c of combinations) {
      if (c[axis] === baseline) continue;
      const against = find({ ...c, [axis]: baseline });
      if (!against) continue;
      for (const col of allColumns) {
        const a = c.final[col.id] ?? [];
        const b = against.final[col.id] ?? [];
        const test = welchTTest(a, b);
        deltas.push({
          axis,
          value: c[axis],
          baseline,
          combination: c,
          against,
          column: col.id,
          diff: mean(a) - mean(b),
          p: test?.p,
          withinNoise: test ? !(test.p < NOISE_ALPHA) : undefined,
        });
      }
    }
  }

  // each method's average rank over the (data, tower) columns of a task, and over every task's columns
  const ranks: Record<string, Record<string, number>> = {};
  const overall: Record<string, Record<string, number>> = {};
  for (const col of allColumns) {
    const table: Record<string, Record<string, number>> = {};
    for (const sup of grid.values.supervision) {
      table[sup] = {};
      overall[sup] ??= {};
      for (const data of grid.values.data)
        for (const model of grid.values.model) {
          const c = find({ data, model, supervision: sup });
          const v = c ? mean(c.final[col.id] ?? []) : NaN;
          table[sup][`${data}|${model}`] = v;
          if (col.id !== 'average') overall[sup][`${data}|${model}|${col.id}`] = v;
        }
    }
    ranks[col.id] = averageRanks(table);
  }
  return {
    grid,
    columns,
    allColumns,
    combinations,
    chance,
    finished,
    missing,
    deltas,
    ranks,
    overallRanks: averageRanks(overall),
  };
}

/** `81.2 ± 1.3` in percent (no ± with one seed); '-' when missing. */
export function formatMeanStd(values: number[] | undefined, digits = 1): string {
  const finite = (values ?? []).filter(Number.isFinite);
  if (finite.length === 0) return '-';
  const m = (100 * mean(finite)).toFixed(digits);
  return finite.length > 1 ? `${m} ± ${(100 * sampleStd(finite)).toFixed(digits)}` : m;
}

/** `+3.2`, `+0.4 ≈` (within seed noise) or `+0.4 ?` (fewer than 2 seeds: untested). */
export function formatDelta(d: Delta, digits = 1): string {
  if (!Number.isFinite(d.diff)) return '-';
  const v = `${d.diff >= 0 ? '+' : '−'}${Math.abs(100 * d.diff).toFixed(digits)}`;
  return d.withinNoise === undefined ? `${v} ?` : d.withinNoise ? `${v} ≈` : v;
}
