// Stage: one optimisation step per assembled batch (src/train/trainer.ts; the step is awaited, so a trainer whose
// step is asynchronous works the same), disposing the batch tensors; measures the time spent waiting for data; stops
// pulling batches once the target step is reached or a stop was requested (SIGINT/SIGTERM). A non-finite or diverging
// loss ends the stream with a TrainingHalt (policy 'stop') or a RollbackRequest (policy 'rollback'), which the runner
// handles.
import type { Stage } from '../core/stage.ts';
import type { AssembledBatch } from './assemble-batch.ts';
import type { Trainer, StepResult } from '../../src/train/trainer.ts';
import type { TrainableModel } from '../../src/train/contracts.ts';
import { batchTensors } from '../../src/train/contracts.ts';
import { RollbackRequest, TrainingHalt } from '../../src/train/halt.ts';
import type { ReaderCursor } from '../webdataset/read-shards.ts';

export interface StepRecord extends StepResult {
  /** ms between the end of the previous step and this batch being available to the step. */
  dataWaitMs: number;
  /** ms of wall time for this step, data wait included. */
  wallMs: number;
  samplesPerSec: number;
  /** Reader position after the last sample of the batch. */
  cursor?: ReaderCursor;
}

export function trainStepStage<M extends TrainableModel>(options: {
  trainer: Trainer<M>;
  lastStep: number;
  stopRequested: () => boolean;
}): Stage<AssembledBatch, StepRecord> {
  const { trainer } = options;
  return async function* trainStepStage(source) {
    if (trainer.step >= options.lastStep || options.stopRequested()) return;
    let previousEnd = performance.now();
    for await (const item of source) {
      const got = performance.now();
      let result: StepResult;
      try {
        result = await trainer.trainStep(item.batch);
      } finally {
        for (const t of batchTensors(item.batch)) t.dispose();
      }
      const end = performance.now();
      if (result.verdict.action === 'stop') throw new TrainingHalt(result.step, result.verdict.reason);
      if (result.verdict.action === 'rollback') throw new RollbackRequest(result.step, result.verdict.reason);
      const wallMs = end - previousEnd;
      yield {
        ...result,
        dataWaitMs: Math.max(0, got - previousEnd),
        wallMs,
        samplesPerSec: wallMs > 0 ? (item.size * 1000) / wallMs : 0,
        cursor: item.cursor,
      };
      previousEnd = performance.now();
      if (trainer.step >= options.lastStep || options.stopRequested()) return;
    }
  };
}
