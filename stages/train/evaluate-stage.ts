// Stage: runs the declaration's evaluation hook every N steps (e.g. zero-shot accuracy) and attaches the results
// to the step record, so the metrics stage logs them next to the losses.
import type { Stage } from '../core/stage.ts';
import type { StepRecord } from './train-step-stage.ts';

export type EvalResults = Record<string, number>;

export function evaluateStage(options: {
  every: number;
  evaluate: ((step: number) => Promise<EvalResults>) | null;
}): Stage<StepRecord, StepRecord & { eval?: EvalResults }> {
  return async function* evaluateStage(source) {
    for await (const record of source) {
      if (options.evaluate && options.every > 0 && record.step % options.every === 0) {
        yield { ...record, eval: await options.evaluate(record.step) };
      } else {
        yield record;
      }
    }
  };
}
