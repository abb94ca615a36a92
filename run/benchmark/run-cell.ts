// One cell of a benchmark grid, resumable at any instant:
//   1. claim the cell directory (its declaration is recorded; a different one is refused)
//   2. evaluate the untrained model (step 0: the same seeded initialisation the run starts from)
//   3. train: a normal run in the cell directory, resumed from its latest checkpoint after a kill
//   4. evaluate the final checkpoint
//   5. write the run's report and, last and atomically, cell.json: the marker that the cell is finished
// The suite's results are CLIP_benchmark JSON files under results/step-N/ and, all together, in cell.json.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runPipeline } from '../runner.ts';
import { buildRunParts } from '../run-parts.ts';
import { newestIntactCheckpoint } from '../checkpoints.ts';
import { loadCheckpoint, applyWeights } from '../../src/train/checkpoint-format.ts';
import { writeFileAtomic } from '../../src/train/atomic-write.ts';
import { writeResult, type BenchmarkResult } from '../../src/eval/results.ts';
import type { Collective } from '../../src/distributed/collective.ts';
import type { PipelineDeclaration } from '../declaration.ts';
import { writeRunReport } from '../report/write-run-report.ts';
import { cellIdentity, claimCellDirectory, IDENTITY_FILE } from './cell-identity.ts';
import { evaluateSuiteOn, withCellFields } from './evaluate-suite.ts';
import type { GridCell } from './expand-grid.ts';
import type { EvalSuite } from '../../src/eval/eval-suite.ts';
import type { ImagePool } from '../../stages/image/decode-views.ts';

export const DONE_FILE = 'cell.json';

/** What cell.json holds. */
export interface CellRecord {
  key: string;
  axes: GridCell['axes'];
  steps: number;
  batchSize: number;
  samplesSeen: number;
  /** Training time over every session of the run (checkpointed, so a resumed run counts its killed sessions too). */
  trainMs: number;
  /** Time spent evaluating the suite (step 0 + final) in the sessions that finished those evaluations. */
  evalMs: number;
  results: BenchmarkResult[];
  /** When the cell directory was claimed (the cell's first session began) and when the cell was finished. */
  startedAt: string;
  finishedAt: string;
}

/** `record` is undefined on the ranks other than 0 of a data-parallel cell (rank 0 writes and reads the results). */
export type CellOutcome = { status: 'skipped' | 'done'; record?: CellRecord } | { status: 'stopped' };

export async function readCellRecord(dir: string): Promise<CellRecord | undefined> {
  const file = join(dir, DONE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8'), (_k, v) => (v === '__NaN__' ? NaN : v)) as CellRecord;
  } catch {
    throw new Error(`${file} is not readable JSON: remove it to evaluate the cell again`);
  }
}

const jsonWithNaN = (v: unknown) =>
  JSON.stringify(v, (_k, x) => (typeof x === 'number' && Number.isNaN(x) ? '__NaN__' : x), 1) + '\n';

async function evaluateModel(d: PipelineDeclaration, o: RunCellOptions, checkpoint: string | undefined) {
  const parts = await buildRunParts(d);
  try {
    if (checkpoint) applyWeights(parts.model, await loadCheckpoint(checkpoint));
    return await evaluateSuiteOn(o.suite, parts, d, { signal: o.stop, pool: o.pool });
  } finally {
    parts.dispose();
  }
}

/**
 * The untrained model depends on the seed, the model, the tokenizer and the method's heads, not on the data or the
 * optimiser: cells that differ only there share one step-0 evaluation (kept under OUT/cache/step-0/).
 */
export function untrainedModelKey(d: PipelineDeclaration, suite: EvalSuite): string {
  const what = JSON.stringify([d.seed, d.model, d.text, d.supervision, suite]);
  return createHash('sha256').update(what).digest('hex').slice(0, 24);
}

async function suiteResultsAt(
  cell: GridCell,
  o: RunCellOptions,
  checkpoint: string | undefined,
): Promise<BenchmarkResult[]> {
  if (checkpoint) return evaluateModel(cell.declaration, o, checkpoint);
  const file = join(o.cacheDir, 'step-0', `${untrainedModelKey(cell.declaration, o.suite)}.json`);
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8'), (_k, v) => (v === '__NaN__' ? NaN : v));
  const results = await evaluateModel(cell.declaration, o, undefined);
  await writeFileAtomic(file, Buffer.from(jsonWithNaN(results)));
  return results;
}

/** Evaluate at `step` unless results/step-N/ already holds this step's records (a kill after it). */
async function evaluationAt(
  dir: string,
  cell: GridCell,
  o: RunCellOptions,
  checkpoint: string | undefined,
  step: number,
  samplesSeen: number,
): Promise<{ records: BenchmarkResult[]; ms: number }> {
  const stepDir = join(dir, 'results', `step-${step}`);
  const doneFile = join(stepDir, 'records.json');
  if (existsSync(doneFile)) return JSON.parse(await readFile(doneFile, 'utf8'), (_k, v) => (v === '__NaN__' ? NaN : v));
  const started = performance.now();
  const results = await suiteResultsAt(cell, o, checkpoint);
  const records = withCellFields(results, {
    cell: cell.key,
    data: cell.axes.data,
    model: cell.axes.model,
    supervision: cell.axes.supervision,
    seed: cell.axes.seed,
    step,
    samples_seen: samplesSeen,
  });
  for (const r of records) await writeResult(stepDir, r);
  const done = { records, ms: Math.round(performance.now() - started) };
  await writeFileAtomic(doneFile, Buffer.from(jsonWithNaN(done)));
  return done;
}

export interface RunCellOptions {
  suite: EvalSuite;
  /** The image worker pool every evaluation of the process shares. */
  pool?: ImagePool;
  /** Where evaluations shared by several cells are kept (OUT/cache). */
  cacheDir: string;
  log: (line: string) => void;
  stop: AbortSignal;
  collective?: Collective;
  /** Rank 0 of a data-parallel cell writes the results; every rank trains. */
  lead: boolean;
}

export async function runCell(cell: GridCell, o: RunCellOptions): Promise<CellOutcome> {
  const d = cell.declaration;
  const dir = d.logging.out;
  if (o.lead) {
    await claimCellDirectory(dir, cellIdentity(d, o.suite));
    const done = await readCellRecord(dir);
    if (done) return { status: 'skipped', record: done };
  } else if (existsSync(join(dir, DONE_FILE))) return { status: 'skipped' };

  if (o.lead) await evaluationAt(dir, cell, o, undefined, 0, 0);
  if (o.stop.aborted) return { status: 'stopped' };

  const ckptRoot = join(dir, 'checkpoints');
  const latestStep = (await newestIntactCheckpoint(ckptRoot, o.log))?.state.step ?? 0;
  if (latestStep < d.optim.steps) {
    if (latestStep > 0) o.log(`[${cell.key}] resuming from step ${latestStep}`);
    // the run gets its own stop signal, linked to the benchmark's for the length of the run only: the runner listens
    // on it, and one long-lived signal would collect a listener per cell
    const stop = new AbortController();
    const forward = () => stop.abort(o.stop.reason);
    if (o.stop.aborted) forward();
    else o.stop.addEventListener('abort', forward, { once: true });
    const summary = await runPipeline(d, { stop: stop.signal, collective: o.collective, log: o.log }).finally(() =>
      o.stop.removeEventListener('abort', forward),
    );
    if (summary.stoppedBy === 'signal') return { status: 'stopped' };
    if (summary.stoppedBy === 'data')
      throw new Error(`cell ${cell.key}: the data ran out at step ${summary.lastStep} of ${d.optim.steps}`);
  }
  if (!o.lead) return { status: 'done' };

  const finalCheckpoint = await newestIntactCheckpoint(ckptRoot, o.log);
  if (!finalCheckpoint) throw new Error(`cell ${cell.key}: no checkpoint under ${ckptRoot} after training`);
  const final = finalCheckpoint.dir;
  const state = finalCheckpoint.state;
  if (state.step !== d.optim.steps)
    throw new Error(`cell ${cell.key}: the latest checkpoint is at step ${state.step}, expected ${d.optim.steps}`);
  const eN = await evaluationAt(dir, cell, o, final, state.step, state.samplesSeen);
  const e0 = await evaluationAt(dir, cell, o, undefined, 0, 0);
  await writeRunReport(dir);
  const record: CellRecord = {
    key: cell.key,
    axes: cell.axes,
    steps: state.step,
    batchSize: d.optim.batchSize,
    samplesSeen: state.samplesSeen,
    trainMs: Math.round(state.elapsedMs),
    evalMs: e0.ms + eN.ms,
    results: [...e0.records, ...eN.records],
    startedAt: (await stat(join(dir, IDENTITY_FILE))).mtime.toISOString(),
    finishedAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, DONE_FILE), Buffer.from(jsonWithNaN(record)));
  return { status: 'done', record };
}
