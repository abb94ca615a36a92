// DeCLIP (docs/methods.md, "DeCLIP"; YFCC-15M weights): two MoCo-v2 image views x¹, x² and two text views — the
// MLM-corrupted caption t^m (used in every contrastive term) and the EDA caption t^e — supervised by
//   L = 0.4·L_MV + 0.2·L_SS + 0.2·L_MLM + 0.2·L_NN
// L_MV  multi-view CLIP: the 4 (image view, text view) InfoNCE pairs averaged;
// L_SS  SimSiam on the image embeddings (3-layer projector with BN, bottleneck predictor, stop-gradient);
// L_MLM cross-entropy of the MLM head on the word features at the selected positions;
// L_NN  image→neighbour InfoNCE against the top-1 cosine neighbours of v^m and v^e in a FIFO queue of text embeddings
//       (both look-ups on the same snapshot, no gradient through the neighbours; enqueue v^e then v^m after the step).
// NN queue (docs/methods.md, "Which queue"): one queue per supervision instance, i.e. per process, fed by afterStep
// with the rows of the features it is given. In one process that is a single queue fed the whole batch each step (the
// paper's "64K queue"). The seed keeps one queue per GPU fed its 256 local rows (≈ 256 steps deep): with ranks, pass
// each rank's local rows to afterStep to reproduce it, or the gathered rows for one global queue replicated on every
// rank. The seed's unused image bank and its logged-only NT-Xent term are not built.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Linear } from '../nn/linear.ts';
import type { Features, FeatureOptions, LossOutput, Supervision, SupervisedModel, TrainBatch } from './types.ts';
import {
  diagonalCrossEntropy,
  mlmLossFromSums,
  mlmPerSample,
  normalizeImageEmbedding,
  normalizeTextEmbedding,
  scaledSimilarity,
  simSiamLoss,
  symmetricInfoNce,
} from './losses.ts';
import { createMlmHead, createSimSiamPredictor, createSimSiamProjector } from './heads.ts';
import type { Head } from './heads.ts';
import { NnQueue } from './nn-queue.ts';
import type { NnQueueState } from './nn-queue.ts';
import { checkHeadSizes, resolveHeadSizes } from './head-sizes.ts';
import {
  clampLogitScaleParam,
  logitScaleRange,
  logitScaleValue,
  MAX_LOGIT_SCALE,
  parseScaleRange,
} from './logit-scale.ts';
import { feature, ghostSize, HeadsSlot, imageView, resolveOptions, textView, weightedTotal } from './common.ts';

export const declipDefaults = {
  mvWeight: 0.4,
  simsiamWeight: 0.2,
  mlmWeight: 0.2,
  nnWeight: 0.2,
  /** SimSiam projector hidden and output widths, predictor bottleneck (seed: 1024/1024/512); null = scaled to the
   *  model (src/supervision/head-sizes.ts). */
  projectorHidden: null as number | null,
  projectorOut: null as number | null,
  predictorHidden: null as number | null,
  /** BN statistics of the SimSiam heads per chunk of N samples (seed: per-GPU BN1d on 128); 0 = whole batch. */
  headGhostSize: 128,
  /** NN FIFO queue entries (seed: 65 536); null = scaled to the model. */
  queueSize: null as number | null,
  maxLogitScale: MAX_LOGIT_SCALE as number | null,
  logitScaleRange: logitScaleRange() as [number, number] | null,
};
export type DeclipOptions = typeof declipDefaults;
export const declipSizes = ['projectorHidden', 'projectorOut', 'predictorHidden', 'queueSize'] as const;
export const declipNullable = ['maxLogitScale', 'logitScaleRange', ...declipSizes] as const;

export interface DeclipHeads {
  projector: Head;
  predictor: Head;
  mlm: Linear;
}

export function createDeclipHeads(model: SupervisedModel, rng: Rng, o: DeclipOptions, name: string): DeclipHeads {
  const sizes = resolveHeadSizes(name, o, ['projectorHidden', 'projectorOut', 'predictorHidden'], model.config);
  const ghost = ghostSize(name, o.headGhostSize);
  const projector = createSimSiamProjector(model.store, rng.fork(), {
    inDim: model.config.embedDim,
    hiddenDim: sizes.projectorHidden,
    outDim: sizes.projectorOut,
    ghostSize: ghost,
  });
  const predictor = createSimSiamPredictor(model.store, rng.fork(), {
    dim: sizes.projectorOut,
    hiddenDim: sizes.predictorHidden,
    ghostSize: ghost,
  });
  const mlm = createMlmHead(model.store, rng.fork(), model.config.text.width, model.config.text.vocabSize);
  return { projector, predictor, mlm };
}

/** The nearest-neighbour queue of text embeddings, sized by the options or scaled to the model. */
export function createNnQueue(model: SupervisedModel, rng: Rng, o: DeclipOptions, name: string): NnQueue {
  const { queueSize } = resolveHeadSizes(name, o, ['queueSize'], model.config);
  return new NnQueue(queueSize, model.config.embedDim, rng.fork());
}

/** Encoder outputs DeFILIP reuses for its dense term. */
export interface DeclipEncoded {
  features: Features;
  image1Tokens: tf.Tensor3D;
  mlmWordFeatures: tf.Tensor3D;
}

/** DeCLIP's per-sample features plus the encoder outputs a dense term needs (view 1 tokens, MLM word features). */
export function declipEncode(
  sup: Pick<Supervision, 'name' | 'imageViews'>,
  heads: DeclipHeads,
  queue: NnQueue,
  model: SupervisedModel,
  batch: TrainBatch,
  opts: FeatureOptions,
): DeclipEncoded {
  return tf.tidy(() => {
    const v1 = model.encodeImage(imageView(sup, batch, 0), opts);
    const v2 = model.encodeImage(imageView(sup, batch, 1), opts);
    const tm = model.encodeText(textView(sup, batch, 'mlm'), opts);
    const te = model.encodeText(textView(sup, batch, 'eda'), opts);
    const textMlm = normalizeTextEmbedding(tm.embedding);
    const textEda = normalizeTextEmbedding(te.embedding);
    // Both look-ups on the same snapshot (the queue only changes in afterStep); neighbours carry no gradient.
    const nnMlm = normalizeTextEmbedding(queue.lookup(textMlm));
    const nnEda = normalizeTextEmbedding(queue.lookup(textEda));
    const call = { training: opts.training, updateStats: opts.updateStats };
    const z1 = heads.projector.apply(v1.embedding, call);
    const z2 = heads.projector.apply(v2.embedding, call);
    const p1 = heads.predictor.apply(z1, call);
    const p2 = heads.predictor.apply(z2, call);
    const mlm = mlmPerSample(tm.wordFeatures, textView(sup, batch, 'mlmLabels'), (rows) => heads.mlm.apply(rows));
    return {
      features: {
        image1: normalizeImageEmbedding(v1.embedding),
        image2: normalizeImageEmbedding(v2.embedding),
        textMlm,
        textEda,
        nnMlm,
        nnEda,
        z1,
        z2,
        p1,
        p2,
        mlmSum: mlm.sum,
        mlmCount: mlm.count,
      },
      image1Tokens: v1.tokens,
      mlmWordFeatures: tm.wordFeatures,
    };
  });
}

/** The four DeCLIP parts from (possibly concatenated) features. */
export function declipParts(
  name: string,
  f: Features,
  model: SupervisedModel,
  o: DeclipOptions,
): Record<string, tf.Scalar> {
  return tf.tidy(() => {
    const get = (k: string) => feature<tf.Tensor2D>(name, f, k);
    const s = logitScaleValue(model.logitScale, o.maxLogitScale);
    const [u1, u2, vm, ve] = [get('image1'), get('image2'), get('textMlm'), get('textEda')];
    const mv = tf.div(
      tf.addN([
        symmetricInfoNce(u1, vm, s),
        symmetricInfoNce(u2, vm, s),
        symmetricInfoNce(u1, ve, s),
        symmetricInfoNce(u2, ve, s),
      ]),
      4,
    ) as tf.Scalar;
    const simsiam = simSiamLoss(get('p1'), get('z1'), get('p2'), get('z2'));
    const mlm = mlmLossFromSums(feature<tf.Tensor1D>(name, f, 'mlmSum'), feature<tf.Tensor1D>(name, f, 'mlmCount'));
    const [nm, ne] = [get('nnMlm'), get('nnEda')];
    const nn = tf.div(
      tf.addN([
        diagonalCrossEntropy(scaledSimilarity(u1, nm, s)),
        diagonalCrossEntropy(scaledSimilarity(u1, ne, s)),
        diagonalCrossEntropy(scaledSimilarity(u2, nm, s)),
        diagonalCrossEntropy(scaledSimilarity(u2, ne, s)),
      ]),
      4,
    ) as tf.Scalar;
    return { mv, simsiam, mlm, nn };
  });
}

export function declipWeights(o: DeclipOptions): Record<string, number> {
  return { mv: o.mvWeight, simsiam: o.simsiamWeight, mlm: o.mlmWeight, nn: o.nnWeight };
}

/** afterStep's enqueue: this step's v^e rows, then its v^m rows (the seed's order). */
export function enqueueStep(name: string, queue: NnQueue | null, features: Features): void {
  if (!queue)
    throw new Error(
      `supervision ${name}: call addHeads(model, rng) before afterStep (the queue is sized to the model)`,
    );
  queue.enqueue(feature(name, features, 'textEda'));
  queue.enqueue(feature(name, features, 'textMlm'));
}

export function queueState(queue: NnQueue | null): Record<string, unknown> {
  return queue ? { nnQueue: queue.getState() } : {};
}

export function restoreQueue(name: string, queue: NnQueue | null, state: Record<string, unknown>): void {
  const q = state.nnQueue as NnQueueState | undefined;
  if (!q) throw new Error(`supervision ${name}: state has no nnQueue`);
  if (!queue)
    throw new Error(`supervision ${name}: call addHeads(model, rng) before setState (the queue is sized to the model)`);
  queue.setState(q);
}

export function createDeclipSupervision(given: Record<string, unknown> = {}): Supervision {
  const name = 'declip';
  const o = resolveOptions(name, declipDefaults, given, declipNullable);
  const range = parseScaleRange(o.logitScaleRange, 'logitScaleRange');
  checkHeadSizes(name, o, declipSizes);
  const slot = new HeadsSlot<DeclipHeads>(name);
  let queue: NnQueue | null = null;
  const sup: Supervision = {
    name,
    imageViews: ['mocov2', 'mocov2'],
    textViews: ['mlm', 'eda'],
    options: o,
    addHeads(model, rng) {
      slot.bind(model.store, () => createDeclipHeads(model, rng, o, name));
      queue = createNnQueue(model, rng, o, name);
    },
    features(model, batch, opts) {
      const enc = declipEncode(sup, slot.get(model.store), queue!, model, batch, opts);
      enc.image1Tokens.dispose();
      enc.mlmWordFeatures.dispose();
      return enc.features;
    },
    loss(features, model): LossOutput {
      slot.get(model.store);
      return tf.tidy(() => {
        const parts = declipParts(name, features, model, o);
        return { total: weightedTotal(parts, declipWeights(o)), parts };
      });
    },
    beforeStep(model) {
      clampLogitScaleParam(model.logitScale, range);
    },
    afterStep(model, features) {
      clampLogitScaleParam(model.logitScale, range);
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
