// The heads the supervisions add to a CLIP model (docs/methods.md, "The methods"), with the seed's state-dict names so
// checkpoints round-trip: DeCLIP's SimSiam projector/predictor and MLM head, SLIP's SimCLR MLP, FILIP's token mappings.
// Built from src/nn (linear [in, out]; batch norm with optional ghost statistics per chunk of N samples).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from '../nn/params.ts';
import { createLinear } from '../nn/linear.ts';
import type { Linear } from '../nn/linear.ts';
import { createBatchNorm } from '../nn/batch-norm.ts';
import type { BatchNorm } from '../nn/batch-norm.ts';

export interface HeadCallOptions {
  training: boolean;
  /** BN running statistics move in training mode unless false. */
  updateStats?: boolean;
}

export interface Head {
  /** Parameter-name prefix in the store. */
  name: string;
  apply(x: tf.Tensor2D, opts: HeadCallOptions): tf.Tensor2D;
}

type Layer = { kind: 'linear'; layer: Linear } | { kind: 'bn'; layer: BatchNorm } | { kind: 'relu' };

function sequential(name: string, layers: Layer[]): Head {
  return {
    name,
    apply: (x, opts) =>
      tf.tidy(() => {
        let h: tf.Tensor = x;
        for (const l of layers) {
          if (l.kind === 'linear') h = l.layer.apply(h);
          else if (l.kind === 'bn') h = l.layer.apply(h, { training: opts.training, updateStats: opts.updateStats });
          else h = tf.relu(h);
        }
        return h as tf.Tensor2D;
      }),
  };
}

export interface SimSiamProjectorOptions {
  inDim: number;
  hiddenDim: number;
  outDim: number;
  ghostSize?: number;
}

/**
 * declip.py::projection_MLP (3 layers): Linear(in→h) BN ReLU, Linear(h→h) BN ReLU, Linear(h→out) BN (no ReLU).
 * (The seed sizes bn3 by hidden_dim; it equals out_dim (1024) in every config, so ours uses out_dim.)
 */
export function createSimSiamProjector(
  store: ParamStore,
  rng: Rng,
  o: SimSiamProjectorOptions,
  prefix = 'projector',
): Head {
  return projectionMlp(store, rng, o, prefix, true);
}

/** Linear(in→h) BN ReLU, Linear(h→h) BN ReLU, Linear(h→out), then BN when `outBn`: the SimSiam and SimCLR MLPs. */
function projectionMlp(
  store: ParamStore,
  rng: Rng,
  o: { inDim: number; hiddenDim: number; outDim: number; ghostSize?: number },
  prefix: string,
  outBn: boolean,
): Head {
  const bn = (n: string, c: number): Layer => ({
    kind: 'bn',
    layer: createBatchNorm(store, `${prefix}.${n}`, c, { ghostSize: o.ghostSize }),
  });
  const lin = (n: string, i: number, out: number): Layer => ({
    kind: 'linear',
    layer: createLinear(store, `${prefix}.${n}`, i, out, rng),
  });
  return sequential(prefix, [
    lin('linear1', o.inDim, o.hiddenDim),
    bn('bn1', o.hiddenDim),
    { kind: 'relu' },
    lin('linear2', o.hiddenDim, o.hiddenDim),
    bn('bn2', o.hiddenDim),
    { kind: 'relu' },
    lin('linear3', o.hiddenDim, o.outDim),
    ...(outBn ? [bn('bn3', o.outDim)] : []),
  ]);
}

export interface SimSiamPredictorOptions {
  dim: number;
  hiddenDim: number;
  ghostSize?: number;
}

/** declip.py::prediction_MLP (bottleneck): Linear(d→h) BN ReLU, Linear(h→d) (no output BN). */
export function createSimSiamPredictor(
  store: ParamStore,
  rng: Rng,
  o: SimSiamPredictorOptions,
  prefix = 'predictor',
): Head {
  return sequential(prefix, [
    { kind: 'linear', layer: createLinear(store, `${prefix}.linear1`, o.dim, o.hiddenDim, rng) },
    { kind: 'bn', layer: createBatchNorm(store, `${prefix}.bn1`, o.hiddenDim, { ghostSize: o.ghostSize }) },
    { kind: 'relu' },
    { kind: 'linear', layer: createLinear(store, `${prefix}.layer2`, o.hiddenDim, o.dim, rng) },
  ]);
}

export interface SimClrMlpOptions {
  inDim: number;
  hiddenDim: number;
  outDim: number;
  ghostSize?: number;
}

/**
 * slip.py::projection_MLP(out_bn=False): Linear(in→h) BN ReLU, Linear(h→h) BN ReLU, Linear(h→out), no output BN.
 * The seed's BN here is SyncBN (statistics over the global batch); its HEAD closure bug is not reproduced.
 */
export function createSimClrMlp(store: ParamStore, rng: Rng, o: SimClrMlpOptions, prefix = 'predictor_sim'): Head {
  return projectionMlp(store, rng, o, prefix, false);
}

/** DeCLIP's MLM head `text_label_predictor`: Linear(text width → vocab) with bias, PyTorch default init. */
export function createMlmHead(
  store: ParamStore,
  rng: Rng,
  width: number,
  vocabSize: number,
  prefix = 'text_label_predictor',
): Linear {
  return createLinear(store, prefix, width, vocabSize, rng);
}

/** FILIP's dense token mapping (`image_mapping` / `text_mapping`): Linear(in → dense dim) with bias. */
export function createTokenMapping(store: ParamStore, rng: Rng, prefix: string, inDim: number, outDim: number): Linear {
  return createLinear(store, prefix, inDim, outDim, rng);
}
