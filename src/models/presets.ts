// Model presets as plain data. A CLIP config = a vision tower + a text tower + the joint embedding width.
// Sizes follow OpenAI CLIP / DeCLIP (docs/methods.md, "Models"); tiny presets train in seconds on CPU.

export interface VitConfig {
  type: 'vit';
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  heads: number;
  /** Keep the patch-embedding conv at its random init (DeCLIP/MoCo-v3; every ViT in the seed). */
  freezePatchEmbedding: boolean;
}

export interface ModifiedResNetConfig {
  type: 'modified-resnet';
  imageSize: number;
  /** Bottlenecks per stage. */
  layers: [number, number, number, number];
  /** Stem width; stage planes are width, 2w, 4w, 8w (x4 expansion). */
  width: number;
  /** Heads of the attention pool (OpenAI: width * 32 / 64). */
  heads: number;
  /** Ghost batch norm: BN statistics per chunk of this many samples in training (per-GPU BN of the reference). */
  bnGhostSize?: number;
}

export type VisionConfig = VitConfig | ModifiedResNetConfig;

export interface TextConfig {
  vocabSize: number;
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  /** OpenAI: a bias-free matrix `text_projection`; DeCLIP: nn.Linear with bias (`text_projection.weight/.bias`). */
  projectionBias: boolean;
}

export interface ClipConfig {
  embedDim: number;
  vision: VisionConfig;
  text: TextConfig;
}

export const OPENAI_VOCAB_SIZE = 49408;

export const visionPresets: Record<string, VisionConfig> = {
  'vit-b32': {
    type: 'vit',
    imageSize: 224,
    patchSize: 32,
    width: 768,
    layers: 12,
    heads: 12,
    freezePatchEmbedding: true,
  },
  'vit-b16': {
    type: 'vit',
    imageSize: 224,
    patchSize: 16,
    width: 768,
    layers: 12,
    heads: 12,
    freezePatchEmbedding: true,
  },
  rn50: { type: 'modified-resnet', imageSize: 224, layers: [3, 4, 6, 3], width: 64, heads: 32 },
  rn101: { type: 'modified-resnet', imageSize: 224, layers: [3, 4, 23, 3], width: 64, heads: 32 },
  'tiny-vit': { type: 'vit', imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 2, freezePatchEmbedding: true },
  'tiny-rn': { type: 'modified-resnet', imageSize: 64, layers: [1, 1, 1, 1], width: 8, heads: 4 },
};

export const textPresets: Record<string, TextConfig> = {
  'text-12x512': {
    vocabSize: OPENAI_VOCAB_SIZE,
    contextLength: 77,
    width: 512,
    layers: 12,
    heads: 8,
    projectionBias: false,
  },
  'text-6x512': {
    vocabSize: OPENAI_VOCAB_SIZE,
    contextLength: 77,
    width: 512,
    layers: 6,
    heads: 8,
    projectionBias: false,
  },
  'text-3x512': {
    vocabSize: OPENAI_VOCAB_SIZE,
    contextLength: 77,
    width: 512,
    layers: 3,
    heads: 8,
    projectionBias: false,
  },
  'tiny-text': {
    vocabSize: OPENAI_VOCAB_SIZE,
    contextLength: 77,
    width: 64,
    layers: 2,
    heads: 2,
    projectionBias: false,
  },
};

/** Joint embedding width used by the reference configs for each vision preset. */
export const defaultEmbedDim: Record<string, number> = {
  'vit-b32': 512,
  'vit-b16': 512,
  rn50: 1024,
  rn101: 512,
  'tiny-vit': 64,
  'tiny-rn': 64,
};

export interface ClipPresetOptions {
  vision: string;
  text: string;
  embedDim?: number;
  vocabSize?: number;
  contextLength?: number;
  projectionBias?: boolean;
  freezePatchEmbedding?: boolean;
  bnGhostSize?: number;
}

/** Build a ClipConfig from preset names plus overrides; throws a one-line error naming the known presets. */
export function clipConfigFromPresets(o: ClipPresetOptions): ClipConfig {
  const v = visionPresets[o.vision];
  if (!v) throw new Error(`unknown vision preset "${o.vision}" (known: ${Object.keys(visionPresets).join(', ')})`);
  const t = textPresets[o.text];
  if (!t) throw new Error(`unknown text preset "${o.text}" (known: ${Object.keys(textPresets).join(', ')})`);
  const vision: VisionConfig =
    v.type === 'vit'
      ? { ...v, freezePatchEmbedding: o.freezePatchEmbedding ?? v.freezePatchEmbedding }
      : { ...v, layers: [...v.layers], ...(o.bnGhostSize !== undefined ? { bnGhostSize: o.bnGhostSize } : {}) };
  return {
    embedDim: o.embedDim ?? defaultEmbedDim[o.vision],
    vision,
    text: {
      ...t,
      vocabSize: o.vocabSize ?? t.vocabSize,
      contextLength: o.contextLength ?? t.contextLength,
      projectionBias: o.projectionBias ?? t.projectionBias,
    },
  };
}
