// The supervision-module contract: a supervision declares the image views
// (augmentation presets, in order) and text views it consumes, adds its heads to the model's ParamStore, turns a
// TrainBatch into per-sample features, and turns (possibly concatenated) features into a total loss with named parts.
// Nothing else in a pipeline changes when the supervision is swapped.
import type * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../models/clip.ts';
import type { ClipConfig } from '../models/presets.ts';
import type { ViewPresetName } from '../image/presets.ts';
import type { Rng } from '../rng.ts';

export type TextView = 'raw' | 'eda' | 'mlm';
export type ImageViewName = ViewPresetName;

export interface TrainBatch {
  /** One NHWC float32 tensor per declared image view, in the declared order. */
  images: tf.Tensor4D[];
  /** int32 [B, context] ids per declared text view; `mlmLabels` (-100 = not selected) comes with 'mlm'. */
  texts: { raw?: tf.Tensor2D; eda?: tf.Tensor2D; mlm?: tf.Tensor2D; mlmLabels?: tf.Tensor2D };
}

export type Features = Record<string, tf.Tensor>;

export interface LossOutput {
  total: tf.Scalar;
  parts: Record<string, tf.Scalar>;
}

export interface FeatureOptions {
  training: boolean;
  /** BN running statistics (model and heads) move in training mode unless false. */
  updateStats?: boolean;
}

/** The model surface a supervision uses (ClipModel satisfies it). */
export type SupervisedModel = Pick<ClipModel, 'config' | 'store' | 'encodeImage' | 'encodeText' | 'logitScale'>;

export interface Supervision {
  /** The method's name in the registry (src/supervision/index.ts). */
  readonly name: string;
  /** Image view presets, in the order batch.images must follow. */
  readonly imageViews: readonly ImageViewName[];
  readonly textViews: readonly TextView[];
  /** Resolved options: the seed's weights/temperatures/head sizes unless overridden. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Adds the head parameters (and, for DeCLIP/DeFILIP, the NN queue sized to the model) to model.store. */
  addHeads(model: SupervisedModel, rng: Rng): void;
  /**
   * Per-sample features (first axis = sample): normalised embeddings, head outputs, NN-queue neighbours (looked up
   * without gradient on the queue's current contents), per-sample MLM sums. Concatenating the features of micro-batches
   * gives the features of the batch.
   */
  features(model: SupervisedModel, batch: TrainBatch, opts: FeatureOptions): Features;
  /** Total loss and named parts from (possibly concatenated) features. Uses the model's logit scale(s). */
  loss(features: Features, model: SupervisedModel): LossOutput;
  /** After gradients are computed, before the optimiser step: clamp logit-scale parameters. */
  beforeStep(model: SupervisedModel): void;
  /** After the optimiser step: clamp again; enqueue this step's text embeddings into the NN queue. */
  afterStep(model: SupervisedModel, features: Features): void;
  /** Training state beyond the ParamStore (NN queue: Float32Array + pointer). */
  getState(): Record<string, unknown>;
  setState(state: Record<string, unknown>): void;
  /** Frees tf memory held outside the ParamStore (NN-queue cache). */
  dispose(): void;
  /** FILIP: dense (token-wise) zero-shot scoring with the supervision's token mappings. */
  dense?: DenseScorer;
}

export interface DenseScorer {
  /** Mapped, L2-normalised image tokens [N, P, d] (eval mode). */
  imageTokens(model: SupervisedModel, images: tf.Tensor4D): tf.Tensor3D;
  /** Mapped, L2-normalised text tokens [C, T, d] and, when padding is excluded, the token mask [C, T]. */
  textTokens(model: SupervisedModel, ids: tf.Tensor2D): { tokens: tf.Tensor3D; mask?: tf.Tensor2D };
  /** score[i, c] = mean over image tokens of the max over text tokens of the cosine (no selection at evaluation). */
  scores(imageTokens: tf.Tensor3D, textTokens: tf.Tensor3D, textMask?: tf.Tensor2D): tf.Tensor2D;
}

/** Width of the vision tower's pooled feature and of its dense tokens (ViT width; ResNet 32·width). */
export function visionFeatureDim(config: ClipConfig): number {
  return config.vision.type === 'vit' ? config.vision.width : config.vision.width * 32;
}
