// Stage: runs the run's evaluation (e.g. zero-shot accuracy) after the steps it is due at and attaches the results to
// the step record, so they are recorded with the step, before the step's checkpoint.
import type { Stage } from '../core/stage.ts';
import type { StepRecord } from './train-step-stage.ts';

export type EvalResults = Record<string, number>;

export function evaluateStage(options: {
  /** Whether step `step` is evaluated. */
  due: (step: number) => boolean;
  evaluate: ((step: number) => Promise<EvalResults>) | null;
}): Stage<StepRecord, StepRecord & { eval?: EvalResults }> {
  return async function* evaluateStage(source) {
    for await (const record of source) {
      if (options.evaluate && options.due(record.step)) yield { ...record, eval: await options.evaluate(record.step) };
      else yield record;
    }
  };
}
