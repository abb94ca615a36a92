// DeFILIP (docs/methods.md, "DeFILIP"): exactly DeCLIP (same views, heads, NN queue and weights) plus 0.2 × the FILIP
// loss on (image view 1 dense tokens, MLM-corrupted caption word features) with top-16 selection and the separate
// clamped dense temperature: L = 0.4·L_MV + 0.2·L_SS + 0.2·L_MLM + 0.2·L_NN + 0.2·L_FILIP. The seed's unused dense
// logits for the other view/text pairs (dense_aug=False) are not computed. Zero-shot evaluation uses the global
// embeddings (the seed's dense eval branch is disabled), so no `dense` scorer.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Features, FeatureOptions, LossOutput, Supervision, SupervisedModel, TrainBatch } from './types.ts';
import {
  createDeclipHeads,
  createNnQueue,
  declipDefaults,
  declipSizes,
  declipEncode,
  declipNullable,
  declipParts,
  declipWeights,
  enqueueStep,
  queueState,
  restoreQueue,
} from './declip.ts';
import type { DeclipHeads } from './declip.ts';
import { createFilipHeads, filipDenseFeatures, filipPart, validateFilipOptions } from './filip.ts';
import type { FilipHeads } from './filip.ts';
import type { NnQueue } from './nn-queue.ts';
import { checkHeadSizes, resolveHeadSizes } from './head-sizes.ts';
import { clampLogitScaleParam, logitScaleRange, parseScaleRange } from './logit-scale.ts';
import { HeadsSlot, resolveOptions, textView, weightedTotal } from './common.ts';

export const defilipDefaults = {
  ...declipDefaults,
  filipWeight: 0.2,
  topK: 16,
  denseDim: null as number | null,
  textPadding: 'include' as 'include' | 'exclude',
  denseScaleRange: logitScaleRange() as [number, number] | null,
};

export function createDefilipSupervision(given: Record<string, unknown> = {}): Supervision {
  const name = 'defilip';
  const o = resolveOptions(name, defilipDefaults, given, [...declipNullable, 'denseScaleRange', 'denseDim']);
  validateFilipOptions(name, o);
  checkHeadSizes(name, o, declipSizes);
  const range = parseScaleRange(o.logitScaleRange, 'logitScaleRange');
  const denseRange = parseScaleRange(o.denseScaleRange, 'denseScaleRange');
  const slot = new HeadsSlot<{ declip: DeclipHeads; filip: FilipHeads }>(name);
  let queue: NnQueue | null = null;
  const sup: Supervision = {
    name,
    imageViews: ['mocov2', 'mocov2'],
    textViews: ['mlm', 'eda'],
    options: o,
    addHeads(model: SupervisedModel, rng: Rng) {
      slot.bind(model.store, () => ({
        declip: createDeclipHeads(model, rng, o, name),
        filip: createFilipHeads(model, rng, resolveHeadSizes(name, o, ['denseDim'], model.config).denseDim),
      }));
      queue = createNnQueue(model, rng, o, name);
    },
    features(model: SupervisedModel, batch: TrainBatch, opts: FeatureOptions): Features {
      const heads = slot.get(model.store);
      return tf.tidy(() => {
        const enc = declipEncode(sup, heads.declip, queue!, model, batch, opts);
        const dense = filipDenseFeatures(
          heads.filip,
          enc.image1Tokens,
          enc.mlmWordFeatures,
          textView(sup, batch, 'mlm'),
          o.textPadding,
        );
        return { ...enc.features, ...dense };
      });
    },
    loss(features: Features, model: SupervisedModel): LossOutput {
      const heads = slot.get(model.store);
      return tf.tidy(() => {
        const parts = {
          ...declipParts(name, features, model, o),
          filip: filipPart(name, features, heads.filip, o.topK),
        };
        return { total: weightedTotal(parts, { ...declipWeights(o), filip: o.filipWeight }), parts };
      });
    },
    beforeStep(model) {
      clampLogitScaleParam(model.logitScale, range);
      clampLogitScaleParam(slot.get(model.store).filip.logitScaleDense, denseRange);
    },
    afterStep(model, features) {
      clampLogitScaleParam(model.logitScale, range);
      clampLogitScaleParam(slot.get(model.store).filip.logitScaleDense, denseRange);
      enqueueStep(name, queue, features);
    },
    getState: () => queueState(queue),
    setState: (state) => restoreQueue(name, queue, state),
    dispose() {
      queue?.dispose();
    },
  };
  return sup;
}
