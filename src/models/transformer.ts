// Pre-LN residual transformer shared by the ViT and the text tower (OpenAI CLIP `Transformer`):
//   x = x + attn(ln_1(x));  x = x + c_proj(QuickGELU(c_fc(ln_2(x))))
// Names: `${prefix}.resblocks.N.` + {ln_1, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, ln_2, mlp.c_fc,
//   mlp.c_proj}.
// Init (CLIP): attn in-proj N(0, w^-1/2); attn out-proj and MLP out N(0, w^-1/2 (2L)^-1/2); MLP in N(0, (2w)^-1/2).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from '../nn/params.ts';
import { createLayerNorm } from '../nn/layer-norm.ts';
import { createLinear } from '../nn/linear.ts';
import { createMultiHeadAttention } from '../nn/attention.ts';
import { quickGelu } from '../nn/activations.ts';

export interface Transformer {
  width: number;
  layers: number;
  heads: number;
  apply(x: tf.Tensor3D, mask?: tf.Tensor): tf.Tensor3D;
}

export function createTransformer(
  store: ParamStore,
  prefix: string,
  width: number,
  layers: number,
  heads: number,
  rng: Rng,
): Transformer {
  const attnStd = width ** -0.5;
  const projStd = width ** -0.5 * (2 * layers) ** -0.5;
  const fcStd = (2 * width) ** -0.5;
  const blocks = Array.from({ length: layers }, (_, i) => {
    const p = `${prefix}.resblocks.${i}`;
    const ln1 = createLayerNorm(store, `${p}.ln_1`, width);
    const attn = createMultiHeadAttention(store, `${p}.attn`, width, heads, rng, { inStd: attnStd, outStd: projStd });
    const ln2 = createLayerNorm(store, `${p}.ln_2`, width);
    const fc = createLinear(store, `${p}.mlp.c_fc`, width, 4 * width, rng, { std: fcStd });
    const proj = createLinear(store, `${p}.mlp.c_proj`, 4 * width, width, rng, { std: projStd });
    return (x: tf.Tensor3D, mask?: tf.Tensor): tf.Tensor3D =>
      tf.tidy(() => {
        const h = tf.add(x, attn.apply(ln1.apply(x) as tf.Tensor3D, mask)) as tf.Tensor3D;
        return tf.add(h, proj.apply(quickGelu(fc.apply(ln2.apply(h))))) as tf.Tensor3D;
      });
  });
  return {
    width,
    layers,
    heads,
    apply: (x, mask) => tf.tidy(() => blocks.reduce((h, block) => block(h, mask), x)),
  };
}
