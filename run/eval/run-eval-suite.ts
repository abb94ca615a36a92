// Evaluate one model on every task of a suite, in order: a CLIP_benchmark-shaped record per dataset and task, and
// the aggregate (the mean of each task's main metric, as DataComp reports). writeSuiteResults puts them in a
// directory: one {dataset}_{pretrained}_{model}_en_{task}.json per task plus aggregate.json.
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { aggregateScore, type AggregateScore } from '../../src/eval/aggregate-score.ts';
import { writeResult, type BenchmarkResult } from '../../src/eval/results.ts';
import { promptsFileOf, type EvalSuite, type EvalTaskSpec } from '../../src/eval/eval-suite.ts';
import { createImagePool } from '../../stages/image/decode-views.ts';
import { runZeroShotTask } from './zero-shot-task.ts';
import { runRetrievalTask } from './retrieval-task.ts';
import { runLinearProbeTask } from './linear-probe-task.ts';
import type { EvalRunOptions, EvaluatedModel } from './evaluated-model.ts';

export interface SuiteResults {
  suite: string;
  records: BenchmarkResult[];
  aggregate: AggregateScore;
  /** Wall seconds per task, in suite order. */
  seconds: number[];
}

/** Run one task of a suite (its prompts default to the suite's). */
export async function runEvalTask(
  suite: EvalSuite,
  task: EvalTaskSpec,
  m: EvaluatedModel,
  options: EvalRunOptions,
): Promise<BenchmarkResult> {
  switch (task.task) {
    case 'zeroshot_classification': {
      const prompts = promptsFileOf(suite, task);
      if (!prompts)
        throw new Error(`zero-shot ${task.dataset}: no prompts file (set the task's or the suite's prompts)`);
      return (await runZeroShotTask({ ...task, prompts }, m, options)).record;
    }
    case 'zeroshot_retrieval':
      return (await runRetrievalTask(task, m, options)).record;
    case 'linear_probe':
      return (await runLinearProbeTask(task, m, options, suite.prompts)).record;
  }
}

export async function runEvalSuite(
  suite: EvalSuite,
  m: EvaluatedModel,
  options: Partial<EvalRunOptions> = {},
): Promise<SuiteResults> {
  const pool = options.pool ?? createImagePool();
  const run: EvalRunOptions = { batchSize: suite.batchSize, ...options, pool };
  const records: BenchmarkResult[] = [];
  const seconds: number[] = [];
  try {
    for (const task of suite.tasks) {
      const t0 = performance.now();
      records.push(await runEvalTask(suite, task, m, run));
      seconds.push((performance.now() - t0) / 1000);
    }
  } finally {
    if (!options.pool) await pool.close();
  }
  return { suite: suite.name, records, aggregate: aggregateScore(records), seconds };
}

/** The per-task JSON files and aggregate.json of a suite's results in `dir`; returns the paths written. */
export async function writeSuiteResults(dir: string, results: SuiteResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const r of results.records) paths.push(await writeResult(dir, r));
  const first = results.records[0];
  const aggregatePath = join(dir, 'aggregate.json');
  await writeFile(
    aggregatePath,
    JSON.stringify(
      {
        suite: results.suite,
        model: first.model,
        pretrained: first.pretrained,
        score: results.aggregate.score,
        tasks: results.aggregate.tasks,
      },
      (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v),
      2,
    ) + '\n',
  );
  paths.push(aggregatePath);
  return paths;
}

/**
 * Flat scalars for metrics.jsonl: <dataset>/<metric> of every task, <dataset>/chance for zero-shot,
 * <dataset>/skipped_images when images were skipped (summed over the dataset's tasks), and aggregate.
 */
export function suiteScalars(results: SuiteResults): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results.records) {
    for (const [k, v] of Object.entries(r.metrics)) out[`${r.dataset}/${k}`] = v;
    if (r.task === 'zeroshot_classification' && typeof r.classes === 'number')
      out[`${r.dataset}/chance`] = 1 / r.classes;
    const skipped = (r.skipped_images as { count?: number } | undefined)?.count;
    if (skipped) out[`${r.dataset}/skipped_images`] = (out[`${r.dataset}/skipped_images`] ?? 0) + skipped;
  }
  out.aggregate = results.aggregate.score;
  return out;
}
