// Vision Transformer image tower (OpenAI CLIP `VisionTransformer`, DeCLIP `visual_transformer`):
//   patches = conv1(image)            (k = s = patch, no bias; frozen at init when freezePatchEmbedding)
//   x = [class_embedding; patches] + positional_embedding -> ln_pre -> transformer
//   tokens  = transformer output of the patch tokens (no ln_post, no proj)  -- FILIP dense features
//   feature = ln_post(x[CLS]);  embedding = feature @ proj
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from '../nn/params.ts';
import { createConv2d } from '../nn/conv.ts';
import { createLayerNorm } from '../nn/layer-norm.ts';
import { normalInit } from '../nn/init.ts';
import { createTransformer } from './transformer.ts';
import type { VitConfig } from './presets.ts';

export interface VisionOutput {
  embedding: tf.Tensor2D;
  feature: tf.Tensor2D;
  tokens: tf.Tensor3D;
}

export interface VisionTower {
  encode(images: tf.Tensor4D, opts: { training: boolean; updateStats?: boolean }): VisionOutput;
}

export function createVit(
  cfg: VitConfig,
  embedDim: number,
  store: ParamStore,
  rng: Rng,
  prefix = 'visual',
): VisionTower {
  if (cfg.imageSize % cfg.patchSize !== 0)
    throw new Error(`vit: image size ${cfg.imageSize} is not a multiple of patch ${cfg.patchSize}`);
  const grid = cfg.imageSize / cfg.patchSize;
  const w = cfg.width;
  const conv1 = createConv2d(store, `${prefix}.conv1`, 3, w, cfg.patchSize, rng, {
    stride: cfg.patchSize,
    trainable: !cfg.freezePatchEmbedding,
  });
  const classEmbedding = store.add(`${prefix}.class_embedding`, normalInit(rng, [w], w ** -0.5), { kind: 'embedding' });
  const positionalEmbedding = store.add(`${prefix}.positional_embedding`, normalInit(rng, [grid * grid + 1, w], 0.01), {
    kind: 'embedding',
  });
  const lnPre = createLayerNorm(store, `${prefix}.ln_pre`, w);
  const transformer = createTransformer(store, `${prefix}.transformer`, w, cfg.layers, cfg.heads, rng);
  const lnPost = createLayerNorm(store, `${prefix}.ln_post`, w);
  const proj = store.add(`${prefix}.proj`, normalInit(rng, [w, embedDim], w ** -0.5), { kind: 'weight' });

  function encode(images: tf.Tensor4D): VisionOutput {
    const [b, h, wd, c] = images.shape;
    if (h !== cfg.imageSize || wd !== cfg.imageSize || c !== 3) {
      throw new Error(`vit: expected NHWC images [B, ${cfg.imageSize}, ${cfg.imageSize}, 3], got [${images.shape}]`);
    }
    const out = tf.tidy(() => {
      const patches = tf.reshape(conv1.apply(images), [b, grid * grid, w]);
      const cls = tf.tile(tf.reshape(classEmbedding, [1, 1, w]), [b, 1, 1]);
      let x = tf.add(tf.concat([cls, patches], 1), positionalEmbedding) as tf.Tensor3D;
      x = lnPre.apply(x) as tf.Tensor3D;
      x = transformer.apply(x);
      const tokens = tf.slice(x, [0, 1, 0], [b, grid * grid, w]) as tf.Tensor3D;
      const feature = lnPost.apply(tf.reshape(tf.slice(x, [0, 0, 0], [b, 1, w]), [b, w])) as tf.Tensor2D;
      const embedding = tf.matMul(feature, proj as tf.Tensor as tf.Tensor2D) as tf.Tensor2D;
      return { embedding, feature, tokens };
    });
    return out;
  }
  return { encode: (images) => encode(images) };
}
