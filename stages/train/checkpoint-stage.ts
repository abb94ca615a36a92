// Stage: saves a checkpoint after the steps it is due at. It comes after the step's evaluation and metrics, so a
// checkpoint never exists without the records of its step; saving is awaited, so the step after a checkpoint never
// starts before the checkpoint is on disk. (The checkpoint at the end of a run is the runner's: it comes after the
// evaluation at the end.)
import type { Stage } from '../core/stage.ts';

export interface CheckpointStageOptions<R extends { step: number }> {
  /** Whether a checkpoint is due after step `step`. */
  due: (step: number) => boolean;
  save: (record: R) => Promise<string>;
}

export function checkpointStage<R extends { step: number }>(options: CheckpointStageOptions<R>): Stage<R, R> {
  return async function* checkpointStage(source) {
    for await (const record of source) {
      if (options.due(record.step)) await options.save(record);
      yield record;
    }
  };
}
