// The benchmark grid declaration: a base pipeline declaration and the axes that vary it. A cell of the grid is the
// base with one value of each axis applied:
//   data         named shard specs or data variants      -> replaces the fields it names in `data`
//   supervision  a method name and ITS options           -> replaces `supervision` whole (options never carry over)
//   model        a preset plus tower-field overrides     -> replaces the architecture in `model` whole; the base's
//                                                            non-architecture fields (normalisation, bnGhostSize) stay
//   seeds        the seeds every (data, supervision, model) combination is trained with
// Every cell gets the base's budget (batch, steps, schedule) unless the grid says `budgetPerCell: true`. A grid file
// is a module whose default export is a GridDeclaration (see grids/demo.ts); `node pipelines/benchmark.ts FILE` runs
// it.
import type { DeepPartial, PipelineDeclaration } from '../declaration.ts';
import type { EvalSuite, EvalSuiteInput } from '../../src/eval/eval-suite.ts';

type DataDeclaration = PipelineDeclaration['data'];
type ModelDeclaration = PipelineDeclaration['model'];
type OptimDeclaration = PipelineDeclaration['optim'];

/** A data variant: the data fields it sets (usually `shards`), or just a shard spec. */
export type DataAxisValue =
  | string
  | (DeepPartial<DataDeclaration> & {
      /** Makes the variant's shards when missing (e.g. a corrupted copy of a clean set); must be idempotent. */
      prepare?: () => Promise<void>;
    });

export interface SupervisionAxisValue {
  name: string;
  options?: Record<string, unknown>;
  /** The method's own optimiser numbers (e.g. SLIP's peak lr and weight decay); budget fields need budgetPerCell. */
  optim?: DeepPartial<OptimDeclaration>;
}

/**
 * A preset name, or the model fields: a preset and tower overrides (`{ preset: 'tiny', text: { layers: 1 } }`),
 * with optional optimiser numbers.
 */
export type ModelAxisValue = string | (DeepPartial<ModelDeclaration> & { optim?: DeepPartial<OptimDeclaration> });

export interface GridDeclaration {
  name: string;
  /** The base pipeline declaration every cell starts from. */
  base: DeepPartial<PipelineDeclaration>;
  axes: {
    data?: Record<string, DataAxisValue>;
    supervision?: Record<string, SupervisionAxisValue>;
    model?: Record<string, ModelAxisValue>;
    /** Seeds for every combination, or per combination (e.g. more seeds where a comparison matters). */
    seeds?: number[] | ((combination: { data: string; supervision: string; model: string }) => number[]);
  };
  /** The value each axis is compared against in the delta tables (default: each axis's first value). */
  baseline?: { data?: string; supervision?: string; model?: string };
  /**
   * The evaluation suite (src/eval/eval-suite.ts: zero-shot classification, retrieval, linear probe), declared once
   * for the grid and run on every cell's model at step 0 and at the end of training.
   */
  suite: EvalSuite | EvalSuiteInput;
  /** Allow axis values to change the budget (optim.batchSize, steps, totalSteps, warmupSteps). Default false. */
  budgetPerCell?: boolean;
  /** Default output directory (else runs/benchmark-<name>); --out overrides. */
  out?: string;
}

/** Type helper for grid files: `export default defineGrid({...})`. */
export function defineGrid(grid: GridDeclaration): GridDeclaration {
  return grid;
}
