// SigLIP (docs/methods.md, "SigLIP"): CLIP's views (one 'clip' image view, the raw caption) with the pairwise sigmoid
// loss of Zhai et al. (arXiv:2303.15343) as open_clip's SigLipLoss computes it:
//   logits_ij = t * x_i . y_j + b,  t = exp(t'),  z_ij = +1 if i = j else -1,
//   L = -(1/n) sum_ij log sigmoid(z_ij * logits_ij)
// with x, y the L2-normalised (F.normalize) embeddings. The temperature t' is the model's `logit_scale` parameter,
// which addHeads sets to ln 10 (open_clip's SigLIP init instead of CLIP's ln(1/0.07)); the bias b is a learnable
// scalar `logit_bias` (init -10, no weight decay) that addHeads adds to the model's store. As in open_clip's training
// loop, t has no forward cap and t' is clamped into [0, ln 100] after each optimiser step (and before it: a no-op
// unless the value was set outside the range). Every one of these numbers is an option.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { l2Normalize } from '../nn/l2-normalize.ts';
import type { Features, FeatureOptions, LossOutput, Supervision, SupervisedModel, TrainBatch } from './types.ts';
import { logitScaleValue, parseScaleRange } from './logit-scale.ts';
import { clampedScaleStatelessHooks, feature, HeadsSlot, imageView, resolveOptions, textView } from './common.ts';

export const siglipDefaults = {
  /** Initial value of the model's logit_scale parameter t' (t = exp t'). */
  logitScaleInit: Math.log(10),
  /** Initial value of the learnable bias b. */
  logitBiasInit: -10,
  /** Forward cap of exp(t') (null = none, open_clip's SigLIP). */
  maxLogitScale: null as number | null,
  /** Parameter clamp [lo, hi] of t' around each optimiser step (null = none). */
  logitScaleRange: [0, Math.log(100)] as [number, number] | null,
};

/**
 * -(1/n) sum_ij log sigmoid(z_ij (scale * u_i . v_j + bias)), z = +1 on the diagonal and -1 elsewhere, for normalised
 * rows u, v [n, d] (open_clip's SigLipLoss on one process; the sum runs over all n^2 pairs, divided by n).
 */
export function sigmoidPairwiseLoss(u: tf.Tensor2D, v: tf.Tensor2D, scale: tf.Scalar, bias: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const n = u.shape[0];
    if (v.shape[0] !== n) throw new Error(`sigmoidPairwiseLoss: ${n} image rows but ${v.shape[0]} text rows`);
    const logits = tf.add(tf.mul(scale, tf.matMul(u, v, false, true)), bias.reshape([]));
    const signs = tf.sub(tf.mul(tf.eye(n), 2), 1);
    // -log sigmoid(x) = softplus(-x). (tf.logSigmoid's gradient reads its input from a closure instead of the tape's
    // saved tensors, so inside tf.tidy under variableGrads the input is gone by the time the backward runs.)
    return tf.div(tf.sum(tf.softplus(tf.neg(tf.mul(signs, logits)))), n) as tf.Scalar;
  });
}

export function createSiglipSupervision(given: Record<string, unknown> = {}): Supervision {
  const name = 'siglip';
  const o = resolveOptions(name, siglipDefaults, given, ['maxLogitScale', 'logitScaleRange']);
  const range = parseScaleRange(o.logitScaleRange, 'logitScaleRange');
  const slot = new HeadsSlot<{ logitBias: tf.Variable }>(name);
  const sup: Supervision = {
    name,
    imageViews: ['clip'],
    textViews: ['raw'],
    options: o,
    addHeads(model: SupervisedModel, _rng: Rng) {
      slot.bind(model.store, () => {
        const init = tf.scalar(o.logitScaleInit);
        model.logitScale.assign(init.reshape(model.logitScale.shape));
        init.dispose();
        return { logitBias: model.store.add('logit_bias', tf.scalar(o.logitBiasInit), { kind: 'bias' }) };
      });
    },
    features(model: SupervisedModel, batch: TrainBatch, opts: FeatureOptions): Features {
      return tf.tidy(() => ({
        image: l2Normalize(model.encodeImage(imageView(sup, batch, 0), opts).embedding),
        text: l2Normalize(model.encodeText(textView(sup, batch, 'raw'), opts).embedding),
      }));
    },
    loss(features: Features, model: SupervisedModel): LossOutput {
      const { logitBias } = slot.get(model.store);
      return tf.tidy(() => {
        const scale = logitScaleValue(model.logitScale, o.maxLogitScale);
        const siglip = sigmoidPairwiseLoss(
          feature(name, features, 'image'),
          feature(name, features, 'text'),
          scale,
          logitBias,
        );
        return { total: tf.clone(siglip), parts: { siglip } };
      });
    },
    ...clampedScaleStatelessHooks(range),
  };
  return sup;
}
