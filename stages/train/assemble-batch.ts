// Stage: arrays of decoded + tokenised samples -> TrainBatch tensors (plus the ids of the samples, so the runner can
// tell which reader position a batch ends at). The tensors are owned by the consumer (the train step disposes them).
import type { Stage } from '../core/stage.ts';
import type { TrainBatch } from '../../src/train/contracts.ts';
import { assembleTrainBatch, sampleId, type HostSample, type TextKey } from '../../src/train/assemble.ts';

export interface AssembledBatch {
  batch: TrainBatch;
  size: number;
  /** sampleId() of every sample, in order. */
  ids: string[];
  /** When the batch was ready (performance.now()). */
  readyAt: number;
}

export function assembleBatch(options: {
  imageViews: number;
  textKeys: TextKey[];
}): Stage<HostSample[], AssembledBatch> {
  return async function* assembleBatchStage(source) {
    for await (const samples of source) {
      const batch = assembleTrainBatch(samples, options.imageViews, options.textKeys);
      yield { batch, size: samples.length, ids: samples.map(sampleId), readyAt: performance.now() };
    }
  };
}
