// Stage: arrays of decoded + tokenised samples -> TrainBatch tensors, with the reader position after the batch's last
// sample (its `__cursor__`, see training-samples.ts), which is where a checkpoint after this batch resumes reading.
// The tensors are owned by the consumer (the train step disposes them).
import type { Stage } from '../core/stage.ts';
import type { TrainBatch } from '../../src/train/contracts.ts';
import { assembleTrainBatch, type HostSample, type TextKey } from '../../src/train/assemble.ts';
import type { ReaderCursor } from '../webdataset/read-shards.ts';

export interface AssembledBatch {
  batch: TrainBatch;
  size: number;
  /** Reader position after the last sample of the batch (samples from trainingSamples carry it). */
  cursor?: ReaderCursor;
  /** When the batch was ready (performance.now()). */
  readyAt: number;
}

export function assembleBatch(options: {
  imageViews: number;
  textKeys: TextKey[];
}): Stage<Array<HostSample & { __cursor__?: ReaderCursor }>, AssembledBatch> {
  return async function* assembleBatchStage(source) {
    for await (const samples of source) {
      const batch = assembleTrainBatch(samples, options.imageViews, options.textKeys);
      yield { batch, size: samples.length, cursor: samples.at(-1)?.__cursor__, readyAt: performance.now() };
    }
  };
}
