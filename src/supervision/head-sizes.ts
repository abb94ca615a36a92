// Head and queue sizes that follow the model. Each method's size options default to null, meaning "scaled to the
// model": the seed's sizes for ViT-B/32 (joint embedding width 512) in proportion to the model's embedding width, so
// a tiny model gets tiny heads (SLIP's fixed 4096-4096-256 MLP would make the tiny model six times larger). A recipe
// that must reproduce the seed (run/recipes/yfcc15m.ts) states the seed's sizes explicitly.
//
//   option           per embedding width e   ViT-B/32 (e = 512)   tiny (e = 64)
//   projectorHidden  2e                      1024                 128     DeCLIP SimSiam projector
//   projectorOut     2e                      1024                 128
//   predictorHidden  e                       512                  64      DeCLIP SimSiam predictor bottleneck
//   mlpHidden        8e                      4096                 512     SLIP SimCLR MLP
//   mlpOut           e / 2                   256                  32
//   denseDim         e / 2                   256                  32      FILIP token mappings
//   queueSize        128e                    65 536               8 192   DeCLIP nearest-neighbour queue
import type { ClipConfig } from '../models/presets.ts';
import { positiveInt } from './common.ts';

export interface HeadSizes {
  projectorHidden: number;
  projectorOut: number;
  predictorHidden: number;
  mlpHidden: number;
  mlpOut: number;
  denseDim: number;
  queueSize: number;
}

export function scaledHeadSizes(config: Pick<ClipConfig, 'embedDim'>): HeadSizes {
  const e = config.embedDim;
  const half = Math.max(1, Math.floor(e / 2));
  return {
    projectorHidden: 2 * e,
    projectorOut: 2 * e,
    predictorHidden: e,
    mlpHidden: 8 * e,
    mlpOut: half,
    denseDim: half,
    queueSize: 128 * e,
  };
}

/**
 * The sizes named by `keys`: the option's value, or (null) the size scaled to the model. The resolved sizes are
 * written back into `options`, so a supervision's options say what was built.
 */
export function resolveHeadSizes<K extends keyof HeadSizes>(
  supervision: string,
  options: { [k in K]: number | null },
  keys: readonly K[],
  config: Pick<ClipConfig, 'embedDim'>,
): Pick<HeadSizes, K> {
  const scaled = scaledHeadSizes(config);
  const out = {} as Pick<HeadSizes, K>;
  for (const k of keys) {
    const v = options[k] ?? scaled[k];
    out[k] = positiveInt(supervision, k, v);
    options[k] = out[k];
  }
  return out;
}

/** One-line errors for sizes given explicitly (null ones are resolved against the model later). */
export function checkHeadSizes<K extends keyof HeadSizes>(
  supervision: string,
  options: { [k in K]: number | null },
  keys: readonly K[],
): void {
  for (const k of keys) if (options[k] !== null) positiveInt(supervision, k, options[k]);
}
