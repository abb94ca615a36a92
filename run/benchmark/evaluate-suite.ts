// Runs a grid's evaluation suite on one cell's model and labels the CLIP_benchmark-shaped records (one per task and
// dataset) with the cell: `model` is the model axis value, `pretrained` names the training that made the weights,
// and every record carries the cell's axis values (they become columns of results.csv, as in CLIP_benchmark's build).
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { EvalSuite } from '../../src/eval/eval-suite.ts';
import { imagenetStats, openaiClipStats } from '../../src/image/presets.ts';
import type { ImagePool } from '../../stages/image/decode-views.ts';
import { runEvalSuite } from '../eval/run-eval-suite.ts';
import type { RunParts } from '../run-parts.ts';
import type { PipelineDeclaration } from '../declaration.ts';

/** The cell-level fields every record of a cell carries. */
export interface CellFields {
  cell: string;
  data: string;
  model: string;
  supervision: string;
  seed: number;
  step: number;
  samples_seen: number;
}

/** The suite's records for a model built from declaration `d` (names are set by withCellFields). */
export async function evaluateSuiteOn(
  suite: EvalSuite,
  parts: RunParts,
  d: PipelineDeclaration,
  options: { signal?: AbortSignal; pool?: ImagePool },
): Promise<BenchmarkResult[]> {
  const { supervision } = parts;
  const results = await runEvalSuite(
    suite,
    {
      model: parts.model,
      tokenizer: parts.tokenizer,
      stats: d.model.normalisation === 'openai' ? openaiClipStats : imagenetStats,
      // FILIP is scored with its dense token-wise path, as its training-time evaluation is
      ...(supervision.name === 'filip' && supervision.dense ? { dense: supervision.dense } : {}),
      modelName: d.model.preset,
      pretrained: d.name,
    },
    { ...options, quiet: true },
  );
  return results.records;
}

export function withCellFields(records: BenchmarkResult[], cell: CellFields): BenchmarkResult[] {
  return records.map((r) => ({
    ...r,
    model: cell.model,
    pretrained: `${cell.data}_${cell.supervision}_s${cell.seed}@${cell.step}`,
    cell: cell.cell,
    data: cell.data,
    supervision: cell.supervision,
    seed: cell.seed,
    step: cell.step,
    samples_seen: cell.samples_seen,
  }));
}
