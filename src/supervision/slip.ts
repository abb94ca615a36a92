// SLIP (docs/methods.md, "SLIP"): CLIP on a base view ('clip' preset) plus SimCLR NT-Xent (τ 0.1) between two augmented
// views ('simclr' preset) through a 4096-4096-256 MLP with BN on the image tower's pooled feature (before the
// projection), L = 1·L_CLIP + 1·L_SimCLR. The logit scale has NO forward cap (SLIP's forward lacks the max-100 clamp);
// the parameter is still clamped into [3, 6] around each step. The seed's released SLIP cannot run: SLIPTransform
// yields 2 views while the model splits 3, run.sh calls clip_solver, and the SyncBN closure of the HEAD code crashes.
// We follow the paper's intent — 1 base view + 2 SimCLR views, the MLP's BN over the whole batch (the SyncBN intent;
// `headGhostSize` gives per-chunk statistics instead).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Features, FeatureOptions, LossOutput, Supervision, SupervisedModel, TrainBatch } from './types.ts';
import { visionFeatureDim } from './types.ts';
import { normalizeImageEmbedding, normalizeTextEmbedding, ntXentLoss, symmetricInfoNce } from './losses.ts';
import { createSimClrMlp } from './heads.ts';
import type { Head } from './heads.ts';
import { checkHeadSizes, resolveHeadSizes } from './head-sizes.ts';
import { clampLogitScaleParam, logitScaleRange, logitScaleValue, parseScaleRange } from './logit-scale.ts';
import { feature, ghostSize, HeadsSlot, imageView, resolveOptions, textView, weightedTotal } from './common.ts';

export const slipDefaults = {
  clipWeight: 1,
  simclrWeight: 1,
  temperature: 0.1,
  /** SimCLR MLP widths (seed: 4096, 256); null = scaled to the model (src/supervision/head-sizes.ts). */
  mlpHidden: null as number | null,
  mlpOut: null as number | null,
  /** 0 = BN statistics over the whole batch (SyncBN intent); N = per chunk of N samples. */
  headGhostSize: 0,
  maxLogitScale: null as number | null,
  logitScaleRange: logitScaleRange() as [number, number] | null,
};

export function createSlipSupervision(given: Record<string, unknown> = {}): Supervision {
  const name = 'slip';
  const o = resolveOptions(name, slipDefaults, given, ['maxLogitScale', 'logitScaleRange', 'mlpHidden', 'mlpOut']);
  checkHeadSizes(name, o, ['mlpHidden', 'mlpOut']);
  const range = parseScaleRange(o.logitScaleRange, 'logitScaleRange');
  if (!(o.temperature > 0)) throw new Error(`supervision slip: option "temperature" must be > 0, got ${o.temperature}`);
  const slot = new HeadsSlot<Head>(name);
  const sup: Supervision = {
    name,
    imageViews: ['clip', 'simclr', 'simclr'],
    textViews: ['raw'],
    options: o,
    addHeads(model: SupervisedModel, rng: Rng) {
      slot.bind(model.store, () => {
        const sizes = resolveHeadSizes(name, o, ['mlpHidden', 'mlpOut'], model.config);
        return createSimClrMlp(model.store, rng.fork(), {
          inDim: visionFeatureDim(model.config),
          hiddenDim: sizes.mlpHidden,
          outDim: sizes.mlpOut,
          ghostSize: ghostSize(name, o.headGhostSize),
        });
      });
    },
    features(model: SupervisedModel, batch: TrainBatch, opts: FeatureOptions): Features {
      const mlp = slot.get(model.store);
      return tf.tidy(() => {
        const call = { training: opts.training, updateStats: opts.updateStats };
        const base = model.encodeImage(imageView(sup, batch, 0), opts);
        const a = model.encodeImage(imageView(sup, batch, 1), opts);
        const b = model.encodeImage(imageView(sup, batch, 2), opts);
        return {
          image: normalizeImageEmbedding(base.embedding),
          text: normalizeTextEmbedding(model.encodeText(textView(sup, batch, 'raw'), opts).embedding),
          simclr1: mlp.apply(a.feature, call),
          simclr2: mlp.apply(b.feature, call),
        };
      });
    },
    loss(features: Features, model: SupervisedModel): LossOutput {
      slot.get(model.store);
      return tf.tidy(() => {
        const s = logitScaleValue(model.logitScale, o.maxLogitScale);
        const clip = symmetricInfoNce(feature(name, features, 'image'), feature(name, features, 'text'), s);
        const simclr = ntXentLoss(
          feature(name, features, 'simclr1'),
          feature(name, features, 'simclr2'),
          o.temperature,
        );
        const parts = { clip, simclr };
        return { total: weightedTotal(parts, { clip: o.clipWeight, simclr: o.simclrWeight }), parts };
      });
    },
    beforeStep(model) {
      clampLogitScaleParam(model.logitScale, range);
    },
    afterStep(model) {
      clampLogitScaleParam(model.logitScale, range);
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
  };
  return sup;
}
