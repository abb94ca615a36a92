// Named view presets (the views the DeCLIP-family methods use, docs/methods.md "Image and text views"),
// size-parameterised so tiny models can train on 32-64 px views. All normalise with ImageNet statistics
// like the DeCLIP code base; openaiClipStats is there for OpenAI-CLIP weights.
import type { Triple, ViewSpec, ViewOp } from './view-spec.ts';

export interface NormalizeStats {
  mean: Triple;
  std: Triple;
}

export const imagenetStats: NormalizeStats = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
export const openaiClipStats: NormalizeStats = {
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

/** The normalisations by the name a declaration or a checkpoint uses. */
export const normalisations: Record<'imagenet' | 'openai', NormalizeStats> = {
  imagenet: imagenetStats,
  openai: openaiClipStats,
};

const torchvisionRatio: [number, number] = [3 / 4, 4 / 3];
const normalize = (stats: NormalizeStats): ViewOp => ({ op: 'normalize', mean: [...stats.mean], std: [...stats.std] });

/** MoCo v2 augmentation (DeCLIP/FILIP/DeFILIP views); SimCLR (SLIP) is the same chain with crop scale 0.08-1. */
function mocoV2(size: number, stats: NormalizeStats, minScale: number): ViewSpec {
  return {
    size,
    ops: [
      { op: 'randomResizedCrop', size, scale: [minScale, 1], ratio: torchvisionRatio },
      { op: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
      { op: 'grayscale', p: 0.2 },
      { op: 'gaussianBlur', sigmaMin: 0.1, sigmaMax: 2.0, p: 0.5 },
      { op: 'horizontalFlip', p: 0.5 },
      normalize(stats),
    ],
  };
}

export type ViewPresetName = 'clip' | 'mocov2' | 'simclr' | 'eval';

export const viewPresets: Record<ViewPresetName, (size: number, stats?: NormalizeStats) => ViewSpec> = {
  /** STANDARD_SLIP: RandomResizedCrop(size, scale 0.5-1) -> ToTensor -> Normalize (CLIP training). */
  clip: (size, stats = imagenetStats) => ({
    size,
    ops: [{ op: 'randomResizedCrop', size, scale: [0.5, 1], ratio: torchvisionRatio }, normalize(stats)],
  }),
  /** MOCOV2 (one of the two crops). */
  mocov2: (size, stats = imagenetStats) => mocoV2(size, stats, 0.2),
  /** SLIP's two SimCLR views (SLIP paper and code: RandomResizedCrop scale 0.08-1, then the MoCo v2 chain). */
  simclr: (size, stats = imagenetStats) => mocoV2(size, stats, 0.08),
  /** ONECROP: Resize(round(size*256/224), shorter side) -> CenterCrop(size) -> Normalize. */
  eval: (size, stats = imagenetStats) => ({
    size,
    ops: [{ op: 'resizeShorter', size: Math.round((size * 256) / 224) }, { op: 'centerCrop', size }, normalize(stats)],
  }),
};
