// GPT-style causal text tower (OpenAI CLIP text side, DeCLIP `text_transformers`):
//   x = token_embedding[ids] + positional_embedding -> transformer (causal mask) -> ln_final   = wordFeatures
//   pooled = x at the position of the largest id in each row (EOT)
//   embedding = pooled @ text_projection            (OpenAI: bias-free [width, embed] matrix)
//             = pooled @ W + b                       (DeCLIP: nn.Linear, names text_projection.weight/.bias)
// Init: token embedding N(0, 0.02), positional N(0, 0.01), projection N(0, width^-1/2).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from '../nn/params.ts';
import { createLayerNorm } from '../nn/layer-norm.ts';
import { createLinear } from '../nn/linear.ts';
import { causalMask } from '../nn/attention.ts';
import { normalInit } from '../nn/init.ts';
import { createTransformer } from './transformer.ts';
import type { TextConfig } from './presets.ts';

export interface TextOutput {
  embedding: tf.Tensor2D;
  wordFeatures: tf.Tensor3D;
}

export interface TextTower {
  encode(ids: tf.Tensor2D, opts: { training: boolean }): TextOutput;
  dispose(): void;
}

export function createTextTransformer(cfg: TextConfig, embedDim: number, store: ParamStore, rng: Rng): TextTower {
  const w = cfg.width;
  const tokenEmbedding = store.add('token_embedding.weight', normalInit(rng, [cfg.vocabSize, w], 0.02), {
    kind: 'embedding',
  });
  const positionalEmbedding = store.add('positional_embedding', normalInit(rng, [cfg.contextLength, w], 0.01), {
    kind: 'embedding',
  });
  const transformer = createTransformer(store, 'transformer', w, cfg.layers, cfg.heads, rng);
  const lnFinal = createLayerNorm(store, 'ln_final', w);
  const project: (x: tf.Tensor2D) => tf.Tensor2D = cfg.projectionBias
    ? (
        (lin) => (x: tf.Tensor2D) =>
          lin.apply(x) as tf.Tensor2D
      )(createLinear(store, 'text_projection', w, embedDim, rng, { std: w ** -0.5 }))
    : (
        (p) => (x: tf.Tensor2D) =>
          tf.matMul(x, p as tf.Tensor as tf.Tensor2D) as tf.Tensor2D
      )(store.add('text_projection', normalInit(rng, [w, embedDim], w ** -0.5), { kind: 'weight' }));
  const mask = tf.keep(causalMask(cfg.contextLength));

  function encode(ids: tf.Tensor2D): TextOutput {
    const [b, t] = ids.shape;
    if (t !== cfg.contextLength) throw new Error(`text: expected ids [B, ${cfg.contextLength}], got [${ids.shape}]`);
    if (ids.dtype !== 'int32') throw new Error(`text: ids must be int32, got ${ids.dtype}`);
    return tf.tidy(() => {
      let x = tf.add(
        tf.reshape(tf.gather(tokenEmbedding, tf.reshape(ids, [-1])), [b, t, w]),
        positionalEmbedding,
      ) as tf.Tensor3D;
      x = transformer.apply(x, mask);
      const wordFeatures = lnFinal.apply(x) as tf.Tensor3D;
      // pool at argmax(id) with a one-hot row mask (cast: float oneHot is broken on wasm 4.22)
      const eot = tf.cast(tf.oneHot(tf.argMax(ids, 1), t), 'float32');
      const pooled = tf.sum(tf.mul(wordFeatures, tf.expandDims(eot, 2)), 1) as tf.Tensor2D;
      return { embedding: project(pooled), wordFeatures };
    });
  }
  return { encode: (ids) => encode(ids), dispose: () => mask.dispose() };
}
