// Infer a ClipConfig from a state dict's tensor shapes, as OpenAI's clip.build_model does, for weights that carry no
// clip-bench record (OpenAI, open_clip, DeCLIP files). Names are canonicalised first (module./encode_text. prefixes,
// see openai-names.ts).
//   ViT  if "visual.proj" exists: width = conv1 out channels, patch = conv1 kernel, layers = highest
//        visual.transformer.resblocks index + 1, resolution = patch * sqrt(positional tokens - 1)
//   ResNet otherwise: bottlenecks per stage = highest visual.layerN index + 1, width = layer1.0.conv1 out channels,
//        resolution = 32 * sqrt(attnpool tokens - 1)
//   text: context = positional_embedding rows, vocab = token_embedding rows, width = ln_final size,
//        layers = highest transformer.resblocks index + 1;
//   embed dim from text_projection ([width, embed] matrix, or Linear weight [embed, width] with bias = DeCLIP).
// Layer counts come from the highest block index, not from a count of tensors, so a file that lacks a tensor of one
// block is not mistaken for a shallower model: the loader then finds that tensor missing and says so.
// Head counts are NOT in the shapes: OpenAI's rule is used (width / 64; the ResNet attention pool 32 x width / 64)
// unless given, and the guesses are returned so the caller can say what it assumed.
import type { ClipConfig, VisionConfig } from '../models/presets.ts';
import { canonicalise } from './openai-names.ts';

type Shaped = { shape: number[] };

export interface InferredConfig {
  config: ClipConfig;
  /** What the shapes could not tell and was assumed (one phrase each), e.g. "vision heads 12 (width 768 / 64)". */
  guesses: string[];
}

export interface InferOptions {
  freezePatchEmbedding?: boolean;
  /** Head counts to use instead of OpenAI's width / 64 rule. */
  heads?: { vision?: number; text?: number };
}

/** Number of blocks under `prefix` (`visual.transformer.resblocks.`): the highest index + 1 (0 when none). */
function blockCount(keys: string[], prefix: string): number {
  let max = -1;
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue;
    const index = Number(k.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(index) && index > max) max = index;
  }
  return max + 1;
}

export function inferClipConfig(tensors: Map<string, Shaped>, opts: InferOptions = {}): InferredConfig {
  const sd = canonicalise(tensors);
  const shape = (name: string): number[] => {
    const t = sd.get(name);
    if (!t)
      throw new Error(
        `cannot infer the architecture: the weights have no "${name}" tensor (not an OpenAI/open_clip/DeCLIP CLIP state dict?)`,
      );
    return t.shape;
  };
  const keys = [...sd.keys()];
  const blocks = (prefix: string): number => {
    const n = blockCount(keys, prefix);
    if (n === 0) throw new Error(`cannot infer the architecture: the weights have no "${prefix}N" blocks`);
    return n;
  };
  const guesses: string[] = [];
  const heads = (tower: 'vision' | 'text', width: number, rule: string): number => {
    const given = opts.heads?.[tower];
    if (given !== undefined) {
      if (!(Number.isInteger(given) && given > 0 && width % given === 0))
        throw new Error(`${tower} heads ${given} do not divide the ${tower} attention width ${width}`);
      return given;
    }
    const h = Math.max(1, Math.floor(width / 64));
    guesses.push(`${tower} heads ${h} (${rule})`);
    return h;
  };
  let vision: VisionConfig;
  if (sd.has('visual.proj')) {
    const conv = shape('visual.conv1.weight');
    const width = conv[0];
    const patchSize = conv[3];
    const grid = Math.round(Math.sqrt(shape('visual.positional_embedding')[0] - 1));
    vision = {
      type: 'vit',
      imageSize: patchSize * grid,
      patchSize,
      width,
      layers: blocks('visual.transformer.resblocks.'),
      heads: heads('vision', width, `width ${width} / 64`),
      freezePatchEmbedding: opts.freezePatchEmbedding ?? true,
    };
  } else {
    const counts = [1, 2, 3, 4].map((b) => blockCount(keys, `visual.layer${b}.`));
    if (counts.some((c) => c === 0))
      throw new Error('cannot infer the architecture: neither "visual.proj" (ViT) nor visual.layer1..4 (ResNet) found');
    const width = shape('visual.layer1.0.conv1.weight')[0];
    const grid = Math.round(Math.sqrt(shape('visual.attnpool.positional_embedding')[0] - 1));
    vision = {
      type: 'modified-resnet',
      imageSize: grid * 32,
      layers: counts as [number, number, number, number],
      width,
      heads: heads('vision', width * 32, `attention pool width ${width * 32} / 64`),
    };
  }
  const projectionBias = sd.has('text_projection.weight');
  const embedDim = projectionBias ? shape('text_projection.weight')[0] : shape('text_projection')[1];
  const textWidth = shape('ln_final.weight')[0];
  const config: ClipConfig = {
    embedDim,
    vision,
    text: {
      vocabSize: shape('token_embedding.weight')[0],
      contextLength: shape('positional_embedding')[0],
      width: textWidth,
      layers: blocks('transformer.resblocks.'),
      heads: heads('text', textWidth, `width ${textWidth} / 64`),
      projectionBias,
    },
  };
  return { config, guesses };
}
