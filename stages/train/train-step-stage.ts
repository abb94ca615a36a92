// Stage: one optimisation step per assembled batch (src/train/trainer.ts; the step is awaited, so a trainer whose
// step is asynchronous works the same), disposing the batch tensors; measures the time spent waiting for data; stops
// pulling batches once the target step is reached or a stop was requested (SIGINT/SIGTERM). A non-finite or diverging
// loss ends the stream with a TrainingHalt (policy 'stop') or a RollbackRequest (policy 'rollback'), which the runner
// handles.
//
// On a device backend (webgpu; `overlap`, default: whenever tensors do not live in host memory) the next batch is
// pulled while the current step's read is pending, and its images are uploaded then (src/webgpu/upload.ts): the
// host-side preparation and the upload overlap the device's work instead of following it. The batch order is the
// same; a batch pulled ahead and not trained (the run stops or rolls back) is disposed, and the checkpoint's data
// cursor is the trained batch's, so a resume never skips it. On wasm and cpu (the step runs on the calling thread)
// batches are pulled one at a time, as before, and so are they in data-parallel runs (the runner turns `overlap` off:
// the ranks' per-step vote upstream is a collective whose place in the order of collectives must not move).
import type { Stage } from '../core/stage.ts';
import type { AssembledBatch } from './assemble-batch.ts';
import type { Trainer, StepResult } from '../../src/train/trainer.ts';
import type { TrainableModel } from '../../src/train/contracts.ts';
import { batchTensors } from '../../src/train/contracts.ts';
import { RollbackRequest, TrainingHalt } from '../../src/train/halt.ts';
import { isHostMemoryBackend } from '../../src/host-values.ts';
import { uploadToDevice } from '../../src/webgpu/upload.ts';
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

const disposeBatch = (item: AssembledBatch) => {
  for (const t of batchTensors(item.batch)) t.dispose();
};

export function trainStepStage<M extends TrainableModel>(options: {
  trainer: Trainer<M>;
  lastStep: number;
  stopRequested: () => boolean;
  /** Pull (and upload) the next batch while the step's read is pending; default: on a device backend. */
  overlap?: boolean;
}): Stage<AssembledBatch, StepRecord> {
  const { trainer } = options;
  return async function* trainStepStage(source) {
    if (trainer.step >= options.lastStep || options.stopRequested()) return;
    const overlap = options.overlap ?? !isHostMemoryBackend();
    const batches = source[Symbol.asyncIterator]();
    let ahead: Promise<IteratorResult<AssembledBatch>> | undefined;
    const pullAhead = () => {
      if (trainer.step + 1 >= options.lastStep || options.stopRequested()) return;
      ahead = batches.next().then((r) => {
        if (!r.done) uploadToDevice(r.value.batch.images);
        return r;
      });
      ahead.catch(() => undefined); // an error surfaces when the batch is awaited
    };
    let previousEnd = performance.now();
    try {
      for (;;) {
        const next = ahead ?? batches.next();
        ahead = undefined;
        const r = await next;
        if (r.done) return;
        const item = r.value;
        const got = performance.now();
        let result: StepResult;
        try {
          result = await trainer.trainStep(item.batch, overlap ? pullAhead : undefined);
        } finally {
          disposeBatch(item);
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
    } finally {
      // a batch pulled ahead and not trained: its tensors go; then the source is closed as for-await would
      const left = ahead && (await ahead.catch(() => undefined));
      if (left && !left.done) disposeBatch(left.value);
      await batches.return?.();
    }
  };
}
