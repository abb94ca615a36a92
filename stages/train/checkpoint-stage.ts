// Stage: saves a checkpoint every N steps, and once more when the stream ends (target step reached, data exhausted,
// or a SIGINT/SIGTERM stop) unless the last step was just saved. Saving is awaited, so the step after a
// checkpoint never starts before the checkpoint is on disk.
import type { Stage } from '../core/stage.ts';
import type { StepRecord } from './train-step-stage.ts';

export interface CheckpointStageOptions {
  every: number;
  save: (record: StepRecord) => Promise<string>;
  onSaved?: (dir: string, record: StepRecord) => void;
}

export function checkpointStage(options: CheckpointStageOptions): Stage<StepRecord, StepRecord> {
  return async function* checkpointStage(source) {
    let last: StepRecord | undefined;
    let savedStep = -1;
    const save = async (r: StepRecord) => {
      const dir = await options.save(r);
      savedStep = r.step;
      options.onSaved?.(dir, r);
    };
    for await (const record of source) {
      last = record;
      if (options.every > 0 && record.step % options.every === 0) await save(record);
      yield record;
    }
    if (last && savedStep !== last.step) await save(last);
  };
}
