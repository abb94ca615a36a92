// CLIP (docs/methods.md, "CLIP"): symmetric InfoNCE between one image view ('clip' = RandomResizedCrop scale 0.5-1) and
// the raw caption, learnable logit scale (init ln(1/0.07), capped at 100 in the forward, parameter clamped into [3, 6]
// before and after each optimiser step). No heads.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Features, FeatureOptions, LossOutput, Supervision, SupervisedModel, TrainBatch } from './types.ts';
import { normalizeImageEmbedding, normalizeTextEmbedding, symmetricInfoNce } from './losses.ts';
import { logitScaleRange, logitScaleValue, MAX_LOGIT_SCALE, parseScaleRange } from './logit-scale.ts';
import { clampedScaleStatelessHooks, feature, imageView, resolveOptions, textView } from './common.ts';

export const clipDefaults = {
  /** Forward cap of exp(θ) (null = none). */
  maxLogitScale: MAX_LOGIT_SCALE as number | null,
  /** Parameter clamp [lo, hi] in beforeStep/afterStep (null = none). */
  logitScaleRange: logitScaleRange() as [number, number] | null,
};

export function createClipSupervision(given: Record<string, unknown> = {}): Supervision {
  const o = resolveOptions('clip', clipDefaults, given, ['maxLogitScale', 'logitScaleRange']);
  const range = parseScaleRange(o.logitScaleRange, 'logitScaleRange');
  const sup: Supervision = {
    name: 'clip',
    imageViews: ['clip'],
    textViews: ['raw'],
    options: o,
    addHeads(_model: SupervisedModel, _rng: Rng) {
      /* CLIP adds no heads */
    },
    features(model: SupervisedModel, batch: TrainBatch, opts: FeatureOptions): Features {
      return tf.tidy(() => ({
        image: normalizeImageEmbedding(model.encodeImage(imageView(sup, batch, 0), opts).embedding),
        text: normalizeTextEmbedding(model.encodeText(textView(sup, batch, 'raw'), opts).embedding),
      }));
    },
    loss(features: Features, model: SupervisedModel): LossOutput {
      return tf.tidy(() => {
        const s = logitScaleValue(model.logitScale, o.maxLogitScale);
        const clip = symmetricInfoNce(feature('clip', features, 'image'), feature('clip', features, 'text'), s);
        return { total: tf.clone(clip), parts: { clip } };
      });
    },
    ...clampedScaleStatelessHooks(range),
  };
  return sup;
}
