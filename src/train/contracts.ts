// What the training step needs of a model and a supervision, written structurally so src/train depends only on
// behaviour: any ClipModel / Supervision that fits works here. The batch and loss types are the supervision
// contract's own (src/supervision/types.ts).
import type * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../nn/params.ts';
import type { LossOutput, TrainBatch } from '../supervision/types.ts';

export type { LossOutput, TrainBatch };

export interface TrainableModel {
  store: ParamStore;
}

export interface SupervisionLike<M extends TrainableModel = TrainableModel> {
  name: string;
  /** Rows on the first axis are samples, so features of micro-batches concatenate into the batch's. */
  features(model: M, batch: TrainBatch, opts: { training: boolean; updateStats?: boolean }): Record<string, tf.Tensor>;
  loss(features: Record<string, tf.Tensor>, model: M): LossOutput;
  beforeStep(model: M): void;
  afterStep(model: M, features: Record<string, tf.Tensor>): void;
  getState(): Record<string, unknown>;
  setState(state: Record<string, unknown>): void;
}

/** Number of samples in a batch (first axis of the first tensor). */
export function batchSize(batch: TrainBatch): number {
  const first = batch.images[0] ?? Object.values(batch.texts).find((t) => t !== undefined);
  if (!first) throw new Error('TrainBatch has no tensors');
  return first.shape[0];
}

/** Every tensor of a batch (for disposal). */
export function batchTensors(batch: TrainBatch): tf.Tensor[] {
  return [...batch.images, ...Object.values(batch.texts).filter((t): t is tf.Tensor2D => t !== undefined)];
}
