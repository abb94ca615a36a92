// FILIP as in the seed (docs/methods.md, "FILIP"): the first MoCo-v2 view and the MLM-corrupted caption (no MLM loss),
// dense tokens mapped to 256-d (`image_mapping`, `text_mapping`) and L2-normalised, top-16 token selection per own
// pair, token-wise late interaction (image→text: mean over patches of the max over the selected text tokens;
// text→image: mean over all 77 text tokens of the max over the selected patches), a separate learnable
// `logit_scale_dense` (no forward cap, parameter clamped into [3, 6]). Loss weights: global CLIP 0, dense 1.
// `textPadding: 'include'` is the seed (padding tokens take part in the text mean and in selection); 'exclude' is the
// FILIP paper's masking (positions after EOT are left out of the text mean and can't be selected).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Linear } from '../nn/linear.ts';
import type {
  DenseScorer,
  Features,
  FeatureOptions,
  LossOutput,
  Supervision,
  SupervisedModel,
  TrainBatch,
} from './types.ts';
import { visionFeatureDim } from './types.ts';
import {
  denseZeroShotScores,
  filipLoss,
  normalizeImageEmbedding,
  normalizeTextEmbedding,
  symmetricInfoNce,
} from './losses.ts';
import { createTokenMapping } from './heads.ts';
import {
  clampLogitScaleParam,
  logitScaleRange,
  logitScaleValue,
  MAX_LOGIT_SCALE,
  parseScaleRange,
} from './logit-scale.ts';
import { LOGIT_SCALE_INIT } from '../models/clip.ts';
import { feature, HeadsSlot, imageView, resolveOptions, textView, weightedTotal } from './common.ts';
import { checkHeadSizes, resolveHeadSizes } from './head-sizes.ts';

export const filipDefaults = {
  clipWeight: 0,
  filipWeight: 1,
  /** Tokens selected per side and pair (seed HEAD: 16; 0 = all tokens, as the first code release). */
  topK: 16,
  /** Width of the token mappings (seed: 256); null = scaled to the model (src/supervision/head-sizes.ts). */
  denseDim: null as number | null,
  textPadding: 'include' as 'include' | 'exclude',
  maxLogitScale: MAX_LOGIT_SCALE as number | null,
  logitScaleRange: logitScaleRange() as [number, number] | null,
  denseScaleRange: logitScaleRange() as [number, number] | null,
};
export type FilipOptionValues = typeof filipDefaults;
export const filipNullable = ['maxLogitScale', 'logitScaleRange', 'denseScaleRange', 'denseDim'] as const;

export interface FilipHeads {
  imageMapping: Linear;
  textMapping: Linear;
  logitScaleDense: tf.Variable;
}

export function validateFilipOptions(
  name: string,
  o: Pick<FilipOptionValues, 'topK' | 'denseDim' | 'textPadding'>,
): void {
  if (!Number.isInteger(o.topK) || o.topK < 0)
    throw new Error(`supervision ${name}: option "topK" must be an integer >= 0, got ${o.topK}`);
  checkHeadSizes(name, o, ['denseDim']);
  if (o.textPadding !== 'include' && o.textPadding !== 'exclude') {
    throw new Error(
      `supervision ${name}: option "textPadding" must be 'include' or 'exclude', got ${JSON.stringify(o.textPadding)}`,
    );
  }
}

export function createFilipHeads(model: SupervisedModel, rng: Rng, denseDim: number): FilipHeads {
  const imageMapping = createTokenMapping(
    model.store,
    rng.fork(),
    'image_mapping',
    visionFeatureDim(model.config),
    denseDim,
  );
  const textMapping = createTokenMapping(model.store, rng.fork(), 'text_mapping', model.config.text.width, denseDim);
  const logitScaleDense = model.store.add('logit_scale_dense', tf.scalar(LOGIT_SCALE_INIT), { kind: 'logit_scale' });
  return { imageMapping, textMapping, logitScaleDense };
}

/** 1 for positions up to and including EOT (the largest id of each row), 0 for the padding after it. */
export function textTokenMask(ids: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const eot = tf.argMax(ids, 1).reshape([-1, 1]);
    return tf.cast(tf.lessEqual(tf.range(0, ids.shape[1], 1, 'int32').reshape([1, -1]), eot), 'float32') as tf.Tensor2D;
  });
}

/** Mapped, L2-normalised dense tokens (x / ||x||, as filip.py). */
export function denseImageTokens(heads: FilipHeads, tokens: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => normalizeImageEmbedding(heads.imageMapping.apply(tokens) as tf.Tensor3D));
}
export function denseTextTokens(heads: FilipHeads, wordFeatures: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => normalizeImageEmbedding(heads.textMapping.apply(wordFeatures) as tf.Tensor3D));
}

/** Per-sample dense features: denseImage [B, P, d], denseText [B, T, d], with textPadding 'exclude' textMask [B, T]. */
export function filipDenseFeatures(
  heads: FilipHeads,
  imageTokens: tf.Tensor3D,
  wordFeatures: tf.Tensor3D,
  ids: tf.Tensor2D,
  textPadding: 'include' | 'exclude',
): Features {
  return tf.tidy(() => {
    const out: Features = {
      denseImage: denseImageTokens(heads, imageTokens),
      denseText: denseTextTokens(heads, wordFeatures),
    };
    if (textPadding === 'exclude') out.textMask = textTokenMask(ids);
    return out;
  });
}

/** The FILIP part from (possibly concatenated) features. */
export function filipPart(name: string, f: Features, heads: FilipHeads, topK: number): tf.Scalar {
  return tf.tidy(() => {
    const sDense = logitScaleValue(heads.logitScaleDense, null);
    const mask = f.textMask as tf.Tensor2D | undefined;
    return filipLoss(
      feature<tf.Tensor3D>(name, f, 'denseImage'),
      feature<tf.Tensor3D>(name, f, 'denseText'),
      sDense,
      mask ? { topK, textMask: mask } : { topK },
    );
  });
}

/** Dense zero-shot scoring (image tokens vs. class-prompt tokens) with the FILIP heads of `model`. */
export function filipDenseScorer(slot: HeadsSlot<FilipHeads>, textPadding: 'include' | 'exclude'): DenseScorer {
  return {
    imageTokens: (model, images) => {
      const heads = slot.get(model.store);
      return tf.tidy(() => denseImageTokens(heads, model.encodeImage(images, { training: false }).tokens));
    },
    textTokens: (model, ids) => {
      const heads = slot.get(model.store);
      return tf.tidy(() => {
        const tokens = denseTextTokens(heads, model.encodeText(ids, { training: false }).wordFeatures);
        return textPadding === 'exclude' ? { tokens, mask: textTokenMask(ids) } : { tokens };
      });
    },
    scores: (imageTokens, textTokens, textMask) => denseZeroShotScores(imageTokens, textTokens, textMask),
  };
}

export function createFilipSupervision(given: Record<string, unknown> = {}): Supervision {
  const name = 'filip';
  const o = resolveOptions(name, filipDefaults, given, filipNullable);
  validateFilipOptions(name, o);
  const range = parseScaleRange(o.logitScaleRange, 'logitScaleRange');
  const denseRange = parseScaleRange(o.denseScaleRange, 'denseScaleRange');
  const slot = new HeadsSlot<FilipHeads>(name);
  const sup: Supervision = {
    name,
    // Only the first of the seed's two MoCo-v2 views is used; the text is the MLM-corrupted caption.
    imageViews: ['mocov2'],
    textViews: ['mlm'],
    options: o,
    addHeads(model: SupervisedModel, rng: Rng) {
      slot.bind(model.store, () =>
        createFilipHeads(model, rng, resolveHeadSizes(name, o, ['denseDim'], model.config).denseDim),
      );
    },
    features(model: SupervisedModel, batch: TrainBatch, opts: FeatureOptions): Features {
      const heads = slot.get(model.store);
      return tf.tidy(() => {
        const ids = textView(sup, batch, 'mlm');
        const v = model.encodeImage(imageView(sup, batch, 0), opts);
        const t = model.encodeText(ids, opts);
        return {
          image: normalizeImageEmbedding(v.embedding),
          text: normalizeTextEmbedding(t.embedding),
          ...filipDenseFeatures(heads, v.tokens, t.wordFeatures, ids, o.textPadding),
        };
      });
    },
    loss(features: Features, model: SupervisedModel): LossOutput {
      const heads = slot.get(model.store);
      return tf.tidy(() => {
        const s = logitScaleValue(model.logitScale, o.maxLogitScale);
        const clip = symmetricInfoNce(feature(name, features, 'image'), feature(name, features, 'text'), s);
        const filip = filipPart(name, features, heads, o.topK);
        const parts = { clip, filip };
        return { total: weightedTotal(parts, { clip: o.clipWeight, filip: o.filipWeight }), parts };
      });
    },
    beforeStep(model) {
      clampLogitScaleParam(model.logitScale, range);
      clampLogitScaleParam(slot.get(model.store).logitScaleDense, denseRange);
    },
    afterStep(model) {
      clampLogitScaleParam(model.logitScale, range);
      clampLogitScaleParam(slot.get(model.store).logitScaleDense, denseRange);
    },
    getState() {
      return {};
    },
    setState() {
      /* stateless beyond the ParamStore */
    },
    dispose() {
      /* nothing held */
    },
    dense: filipDenseScorer(slot, o.textPadding),
  };
  return sup;
}
