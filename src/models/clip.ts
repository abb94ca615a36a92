// CLIP = an image tower + a text tower + a learnable temperature `logit_scale` (init ln(1/0.07)).
// Parameter names are OpenAI's state-dict names so checkpoints import/export without renaming.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from '../nn/params.ts';
import type { ClipConfig } from './presets.ts';
import { createVit } from './vit.ts';
import type { VisionOutput, VisionTower } from './vit.ts';
import { createModifiedResNet } from './modified-resnet.ts';
import { createTextTransformer } from './text-transformer.ts';
import type { TextOutput } from './text-transformer.ts';

export interface EncodeOptions {
  training: boolean;
  /** BN running statistics move in training mode unless this is false (e.g. on a gradient-cache re-run). */
  updateStats?: boolean;
}

export interface ClipModel {
  config: ClipConfig;
  store: ParamStore;
  /** images: NHWC float32, normalised. embedding is projected, NOT normalised. */
  encodeImage(images: tf.Tensor4D, opts: EncodeOptions): VisionOutput;
  /** ids: int32 [B, context]. */
  encodeText(ids: tf.Tensor2D, opts: EncodeOptions): TextOutput;
  logitScale: tf.Variable;
  dispose(): void;
}

/** The temperature's initial value, ln(1/0.07), shared by every learnable logit scale. */
export const LOGIT_SCALE_INIT = Math.log(1 / 0.07);

export function createClip(config: ClipConfig, store: ParamStore, rng: Rng): ClipModel {
  const vision: VisionTower =
    config.vision.type === 'vit'
      ? createVit(config.vision, config.embedDim, store, rng.fork())
      : createModifiedResNet(config.vision, config.embedDim, store, rng.fork());
  const text = createTextTransformer(config.text, config.embedDim, store, rng.fork());
  const logitScale = store.add('logit_scale', tf.scalar(LOGIT_SCALE_INIT), { kind: 'logit_scale' });
  return {
    config,
    store,
    logitScale,
    encodeImage: (images, opts) => vision.encode(images, opts),
    encodeText: (ids, opts) => text.encode(ids, opts),
    dispose: () => {
      text.dispose();
      store.dispose();
    },
  };
}
