// Infer a ClipConfig from a state dict's tensor shapes, as OpenAI's clip.build_model does, so `--weights file` alone
// is enough. Names are canonicalised first (module./encode_text. prefixes, see openai-names.ts).
//   ViT  if "visual.proj" exists: width = conv1 out channels, patch = conv1 kernel, layers = number of
//        visual...attn.in_proj_weight, resolution = patch * sqrt(positional tokens - 1), heads = width / 64
//   ResNet otherwise: layers = bottlenecks per visual.layerN, width = layer1.0.conv1 out channels,
//        resolution = 32 * sqrt(attnpool tokens - 1), heads = width * 32 / 64
//   text: context = positional_embedding rows, vocab = token_embedding rows, width = ln_final size,
//        heads = width / 64, layers = distinct transformer.resblocks indices;
//   embed dim from text_projection ([width, embed] matrix, or Linear weight [embed, width] with bias = DeCLIP).
// Head counts are not visible in shapes; files written by clip-bench carry the exact config in the safetensors
// metadata key "clip_bench.config", which takes precedence.
import type { ClipConfig, VisionConfig } from '../models/presets.ts';
import { canonicalise } from './openai-names.ts';

export const CONFIG_METADATA_KEY = 'clip_bench.config';

type Shaped = { shape: number[] };

export function inferClipConfig(
  tensors: Map<string, Shaped>,
  metadata: Record<string, string> = {},
  opts: { freezePatchEmbedding?: boolean } = {},
): ClipConfig {
  if (metadata[CONFIG_METADATA_KEY]) {
    const cfg = JSON.parse(metadata[CONFIG_METADATA_KEY]) as ClipConfig;
    if (cfg.vision.type === 'vit' && opts.freezePatchEmbedding !== undefined)
      cfg.vision.freezePatchEmbedding = opts.freezePatchEmbedding;
    return cfg;
  }
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
  let vision: VisionConfig;
  if (sd.has('visual.proj')) {
    const conv = shape('visual.conv1.weight');
    const width = conv[0];
    const patchSize = conv[3];
    const layers = keys.filter((k) => k.startsWith('visual.') && k.endsWith('.attn.in_proj_weight')).length;
    const grid = Math.round(Math.sqrt(shape('visual.positional_embedding')[0] - 1));
    vision = {
      type: 'vit',
      imageSize: patchSize * grid,
      patchSize,
      width,
      layers,
      heads: Math.max(1, Math.floor(width / 64)),
      freezePatchEmbedding: opts.freezePatchEmbedding ?? true,
    };
  } else {
    const counts = [1, 2, 3, 4].map(
      (b) => new Set(keys.filter((k) => k.startsWith(`visual.layer${b}.`)).map((k) => k.split('.')[2])).size,
    );
    if (counts.some((c) => c === 0))
      throw new Error('cannot infer the architecture: neither "visual.proj" (ViT) nor visual.layer1..4 (ResNet) found');
    const width = shape('visual.layer1.0.conv1.weight')[0];
    const grid = Math.round(Math.sqrt(shape('visual.attnpool.positional_embedding')[0] - 1));
    vision = {
      type: 'modified-resnet',
      imageSize: grid * 32,
      layers: counts as [number, number, number, number],
      width,
      heads: Math.max(1, Math.floor((width * 32) / 64)),
    };
  }
  const projectionBias = sd.has('text_projection.weight');
  const embedDim = projectionBias ? shape('text_projection.weight')[0] : shape('text_projection')[1];
  const textWidth = shape('ln_final.weight')[0];
  const textLayers = new Set(keys.filter((k) => k.startsWith('transformer.resblocks.')).map((k) => k.split('.')[2]))
    .size;
  return {
    embedDim,
    vision,
    text: {
      vocabSize: shape('token_embedding.weight')[0],
      contextLength: shape('positional_embedding')[0],
      width: textWidth,
      layers: textLayers,
      heads: Math.max(1, Math.floor(textWidth / 64)),
      projectionBias,
    },
  };
}
