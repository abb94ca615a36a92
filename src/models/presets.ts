// Model presets: ONE table keyed by model name. Each entry is a whole CLIP, shaped like open_clip's model configs
// (`ViT-B-32.json`: the joint embedding width, the vision tower, the text tower). Sizes follow OpenAI CLIP and the
// DeCLIP code base; the tiny presets train in seconds on a CPU.
//
// Any field can be changed on top of a preset (`buildClipConfig('tiny', { text: { layers: 1, width: 32 } })`, or
// `--model.text.layers 1 --model.text.width 32` in a pipeline). Derived defaults, as open_clip derives them:
//   - heads follow the width at the preset's head width (open_clip: `heads = width // head_width`, head width 64 for
//     the OpenAI models; the tiny presets use 32): widening the text tower of `tiny` to 128 gives 4 heads. Set heads
//     explicitly when the width is not a multiple of the head width.
//   - the ResNet attention pool works on 32 x width channels (open_clip: `vision_heads = width * 32 // head_width`).
// Every problem is one line naming the field (`model.text.width (100) must be divisible by model.text.heads (3)`).

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

/** OpenAI's vocabulary: 48 894 merges + 512 byte symbols + start and end of text. */
export const OPENAI_VOCAB_SIZE = 49408;

const openaiText: TextConfig = {
  vocabSize: OPENAI_VOCAB_SIZE,
  contextLength: 77,
  width: 512,
  layers: 12,
  heads: 8,
  projectionBias: false,
};
const vitB = (patchSize: number): VitConfig => ({
  type: 'vit',
  imageSize: 224,
  patchSize,
  width: 768,
  layers: 12,
  heads: 12,
  freezePatchEmbedding: true,
});
const tinyText: TextConfig = { ...openaiText, width: 64, layers: 2, heads: 2 };

/** The models by name (`--model NAME`). */
export const modelPresets: Readonly<Record<string, ClipConfig>> = {
  'vit-b32': { embedDim: 512, vision: vitB(32), text: openaiText },
  'vit-b16': { embedDim: 512, vision: vitB(16), text: openaiText },
  rn50: {
    embedDim: 1024,
    vision: { type: 'modified-resnet', imageSize: 224, layers: [3, 4, 6, 3], width: 64, heads: 32 },
    text: openaiText,
  },
  rn101: {
    embedDim: 512,
    vision: { type: 'modified-resnet', imageSize: 224, layers: [3, 4, 23, 3], width: 64, heads: 32 },
    text: openaiText,
  },
  tiny: {
    embedDim: 64,
    vision: { type: 'vit', imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 2, freezePatchEmbedding: true },
    text: tinyText,
  },
  'tiny-rn': {
    embedDim: 64,
    vision: { type: 'modified-resnet', imageSize: 64, layers: [1, 1, 1, 1], width: 8, heads: 4 },
    text: tinyText,
  },
};

export const modelPresetNames = Object.keys(modelPresets);

/** Fields that may be changed on top of a preset; absent (or undefined) = the preset's value or its derived default. */
export interface ModelOverrides {
  embedDim?: number;
  vision?: {
    imageSize?: number;
    patchSize?: number;
    width?: number;
    /** ViT: blocks; ResNet: bottlenecks per stage (four numbers). */
    layers?: number | readonly number[];
    heads?: number;
    /** ViT only. */
    freezePatchEmbedding?: boolean;
    /** ResNet only (a ViT has no batch norm: ignored); 0 = statistics over the whole forward pass. */
    bnGhostSize?: number;
  };
  text?: {
    vocabSize?: number;
    contextLength?: number;
    width?: number;
    layers?: number;
    heads?: number;
    projectionBias?: boolean;
  };
}

/** A bad model field: `field` is its dotted path in a declaration (`model.text.width`). */
export class ModelConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'ModelConfigError';
    this.field = field;
  }
}

/** A deep copy of a preset's config; a one-line error naming the known presets. */
export function modelPreset(name: string): ClipConfig {
  const p = modelPresets[name];
  if (!p)
    throw new ModelConfigError(
      'model.preset',
      `model.preset: unknown model "${name}" (known: ${modelPresetNames.join(', ')})`,
    );
  return structuredClone(p) as ClipConfig;
}

const positiveInt = (field: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ModelConfigError(field, `${field} must be an integer >= 1, got ${JSON.stringify(v)}`);
  return v;
};

/**
 * Heads of a tower whose width may have changed: the given heads, or the preset's head width carried over to the new
 * width. `width` is what the heads split (ResNet: 32 x the stem width), `widthText` names it in messages.
 */
function resolveHeads(
  tower: 'model.vision' | 'model.text',
  width: number,
  widthText: string,
  given: number | undefined,
  preset: { width: number; heads: number },
): number {
  const field = `${tower}.heads`;
  if (given === undefined) {
    const headWidth = preset.width / preset.heads;
    if (width % headWidth !== 0)
      throw new ModelConfigError(
        field,
        `${widthText} is not a multiple of the preset's head width ${headWidth}: set ${field}`,
      );
    return width / headWidth;
  }
  const heads = positiveInt(field, given);
  if (width % heads !== 0) throw new ModelConfigError(field, `${widthText} must be divisible by ${field} (${heads})`);
  return heads;
}

/** A preset with fields changed; throws a ModelConfigError naming the first bad field. */
export function buildClipConfig(preset: string, overrides: ModelOverrides = {}): ClipConfig {
  const base = modelPreset(preset);
  const v = overrides.vision ?? {};
  const t = overrides.text ?? {};
  const embedDim = overrides.embedDim === undefined ? base.embedDim : positiveInt('model.embedDim', overrides.embedDim);

  let vision: VisionConfig;
  const bv = base.vision;
  const imageSize = v.imageSize === undefined ? bv.imageSize : positiveInt('model.vision.imageSize', v.imageSize);
  const width = v.width === undefined ? bv.width : positiveInt('model.vision.width', v.width);
  if (bv.type === 'vit') {
    if (Array.isArray(v.layers))
      throw new ModelConfigError(
        'model.vision.layers',
        `model.vision.layers must be one number of blocks for a ViT, got ${JSON.stringify(v.layers)}`,
      );
    const patchSize = v.patchSize === undefined ? bv.patchSize : positiveInt('model.vision.patchSize', v.patchSize);
    if (imageSize % patchSize !== 0)
      throw new ModelConfigError(
        'model.vision.patchSize',
        `model.vision.imageSize (${imageSize}) must be a multiple of model.vision.patchSize (${patchSize})`,
      );
    vision = {
      type: 'vit',
      imageSize,
      patchSize,
      width,
      layers: v.layers === undefined ? bv.layers : positiveInt('model.vision.layers', v.layers),
      heads: resolveHeads('model.vision', width, `model.vision.width (${width})`, v.heads, bv),
      freezePatchEmbedding: v.freezePatchEmbedding ?? bv.freezePatchEmbedding,
    };
  } else {
    if (v.patchSize !== undefined)
      throw new ModelConfigError('model.vision.patchSize', 'model.vision.patchSize applies to ViT towers only');
    if (v.freezePatchEmbedding !== undefined)
      throw new ModelConfigError(
        'model.vision.freezePatchEmbedding',
        'model.vision.freezePatchEmbedding applies to ViT towers only',
      );
    if (v.layers !== undefined && (!Array.isArray(v.layers) || v.layers.length !== 4))
      throw new ModelConfigError(
        'model.vision.layers',
        `model.vision.layers must be four numbers of bottlenecks for a ResNet (e.g. 3,4,6,3), got ` +
          `${JSON.stringify(v.layers)}`,
      );
    if (imageSize % 32 !== 0)
      throw new ModelConfigError(
        'model.vision.imageSize',
        `model.vision.imageSize must be a multiple of 32 for a ResNet, got ${imageSize}`,
      );
    const layers = (v.layers ?? bv.layers).map((n, i) => positiveInt(`model.vision.layers[${i}]`, n));
    const ghost = v.bnGhostSize === undefined ? bv.bnGhostSize : v.bnGhostSize;
    vision = {
      type: 'modified-resnet',
      imageSize,
      layers: layers as [number, number, number, number],
      width,
      heads: resolveHeads(
        'model.vision',
        width * 32,
        `the attention pool width 32 x model.vision.width (${width * 32})`,
        v.heads,
        { width: bv.width * 32, heads: bv.heads },
      ),
      ...(ghost === undefined || ghost === 0 ? {} : { bnGhostSize: positiveInt('model.vision.bnGhostSize', ghost) }),
    };
  }

  const bt = base.text;
  const textWidth = t.width === undefined ? bt.width : positiveInt('model.text.width', t.width);
  const text: TextConfig = {
    vocabSize: t.vocabSize === undefined ? bt.vocabSize : positiveInt('model.text.vocabSize', t.vocabSize),
    contextLength:
      t.contextLength === undefined ? bt.contextLength : positiveInt('model.text.contextLength', t.contextLength),
    width: textWidth,
    layers: t.layers === undefined ? bt.layers : positiveInt('model.text.layers', t.layers),
    heads: resolveHeads('model.text', textWidth, `model.text.width (${textWidth})`, t.heads, bt),
    projectionBias: t.projectionBias ?? bt.projectionBias,
  };
  if (text.contextLength < 2)
    throw new ModelConfigError(
      'model.text.contextLength',
      `model.text.contextLength must be >= 2, got ${text.contextLength}`,
    );
  return { embedDim, vision, text };
}
