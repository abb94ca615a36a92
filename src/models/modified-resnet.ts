// CLIP's ModifiedResNet image tower (OpenAI CLIP `ModifiedResNet`, DeCLIP `modified_resnet.py`), NHWC:
//   stem: three 3x3 convs (3 -> w/2 stride 2, w/2 -> w/2, w/2 -> w), each BN + ReLU, then 2x2 average pool
//   layer1..4: bottlenecks with planes w, 2w, 4w, 8w (x4 expansion); stride 2 from layer2 on, done by average pooling
//   attnpool: flatten the final map to tokens, prepend their mean, add a positional embedding, one multi-head
//             attention with the mean token as the only query, c_proj -> embedding
// Outputs: tokens = layer4 map flattened [B, h*w, 32w]; feature = attention-pool output before c_proj; embedding.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { ParamStore } from '../nn/params.ts';
import { createConv2d } from '../nn/conv.ts';
import { createBatchNorm } from '../nn/batch-norm.ts';
import type { BatchNormCallOptions } from '../nn/batch-norm.ts';
import { createLinear } from '../nn/linear.ts';
import { attend, splitHeads, mergeHeads } from '../nn/attention.ts';
import { normalInit } from '../nn/init.ts';
import type { ModifiedResNetConfig } from './presets.ts';
import type { VisionOutput, VisionTower } from './vit.ts';

type Call = BatchNormCallOptions;
type Layer = (x: tf.Tensor4D, call: Call) => tf.Tensor4D;

function avgPool(x: tf.Tensor4D, k: number): tf.Tensor4D {
  return k > 1 ? tf.avgPool(x, k, k, 'valid') : x;
}

/** conv -> BN (-> ReLU) with OpenAI names `${conv}.weight`, `${bn}.*`. */
function convBn(
  store: ParamStore,
  conv: string,
  bn: string,
  inC: number,
  outC: number,
  k: number,
  rng: Rng,
  o: { stride?: number; relu: boolean; zeroGamma?: boolean; ghostSize?: number },
): Layer {
  const c = createConv2d(store, conv, inC, outC, k, rng, { stride: o.stride ?? 1, padding: (k - 1) / 2 });
  const n = createBatchNorm(store, bn, outC, { zeroInitGamma: o.zeroGamma, ghostSize: o.ghostSize });
  return (x, call) =>
    tf.tidy(() => {
      const y = n.apply(c.apply(x), call) as tf.Tensor4D;
      return o.relu ? tf.relu(y) : y;
    });
}

function createBottleneck(
  store: ParamStore,
  p: string,
  inplanes: number,
  planes: number,
  stride: number,
  rng: Rng,
  ghostSize?: number,
): Layer {
  const out = planes * 4;
  const a = convBn(store, `${p}.conv1`, `${p}.bn1`, inplanes, planes, 1, rng, { relu: true, ghostSize });
  const b = convBn(store, `${p}.conv2`, `${p}.bn2`, planes, planes, 3, rng, { relu: true, ghostSize });
  const c = convBn(store, `${p}.conv3`, `${p}.bn3`, planes, out, 1, rng, { relu: false, zeroGamma: true, ghostSize });
  const down =
    stride > 1 || inplanes !== out
      ? convBn(store, `${p}.downsample.0`, `${p}.downsample.1`, inplanes, out, 1, rng, { relu: false, ghostSize })
      : undefined;
  return (x, call) =>
    tf.tidy(() => {
      const y = c(avgPool(b(a(x, call), call), stride), call);
      const identity = down ? down(avgPool(x, stride), call) : x;
      return tf.relu(tf.add(y, identity));
    });
}

export function createModifiedResNet(
  cfg: ModifiedResNetConfig,
  embedDim: number,
  store: ParamStore,
  rng: Rng,
  prefix = 'visual',
): VisionTower {
  if (cfg.imageSize % 32 !== 0) throw new Error(`modified-resnet: image size ${cfg.imageSize} is not a multiple of 32`);
  const w = cfg.width;
  const g = cfg.bnGhostSize;
  const stem = [
    convBn(store, `${prefix}.conv1`, `${prefix}.bn1`, 3, w / 2, 3, rng, { stride: 2, relu: true, ghostSize: g }),
    convBn(store, `${prefix}.conv2`, `${prefix}.bn2`, w / 2, w / 2, 3, rng, { relu: true, ghostSize: g }),
    convBn(store, `${prefix}.conv3`, `${prefix}.bn3`, w / 2, w, 3, rng, { relu: true, ghostSize: g }),
  ];
  const blocks: Layer[] = [];
  let inplanes = w;
  cfg.layers.forEach((count, stage) => {
    const planes = w * 2 ** stage;
    for (let i = 0; i < count; i++) {
      blocks.push(
        createBottleneck(
          store,
          `${prefix}.layer${stage + 1}.${i}`,
          inplanes,
          planes,
          i === 0 && stage > 0 ? 2 : 1,
          rng,
          g,
        ),
      );
      inplanes = planes * 4;
    }
  });

  // Attention pooling (OpenAI AttentionPool2d); init N(0, C^-1/2) for q/k/v/c_proj weights, PyTorch default biases.
  const channels = w * 32;
  const spatial = cfg.imageSize / 32;
  const tokens = spatial * spatial;
  const std = channels ** -0.5;
  const pos = store.add(
    `${prefix}.attnpool.positional_embedding`,
    normalInit(rng, [tokens + 1, channels], channels ** -0.5),
    { kind: 'embedding' },
  );
  const qProj = createLinear(store, `${prefix}.attnpool.q_proj`, channels, channels, rng, { std });
  const kProj = createLinear(store, `${prefix}.attnpool.k_proj`, channels, channels, rng, { std });
  const vProj = createLinear(store, `${prefix}.attnpool.v_proj`, channels, channels, rng, { std });
  const cProj = createLinear(store, `${prefix}.attnpool.c_proj`, channels, embedDim, rng, { std });

  function encode(images: tf.Tensor4D, call: Call): VisionOutput {
    const [b, h, wd, c] = images.shape;
    if (h !== cfg.imageSize || wd !== cfg.imageSize || c !== 3) {
      throw new Error(
        `modified-resnet: expected NHWC images [B, ${cfg.imageSize}, ${cfg.imageSize}, 3], got [${images.shape}]`,
      );
    }
    return tf.tidy(() => {
      let x = stem.reduce((y, layer) => layer(y, call), images);
      x = avgPool(x, 2);
      x = blocks.reduce((y, block) => block(y, call), x);
      const map = tf.reshape(x, [b, tokens, channels]) as tf.Tensor3D;
      const seq = tf.add(tf.concat([tf.mean(map, 1, true), map], 1), pos) as tf.Tensor3D;
      const q = qProj.apply(tf.slice(seq, [0, 0, 0], [b, 1, channels]));
      const pooled = attend(
        splitHeads(q, cfg.heads),
        splitHeads(kProj.apply(seq), cfg.heads),
        splitHeads(vProj.apply(seq), cfg.heads),
      );
      const feature = tf.reshape(mergeHeads(pooled), [b, channels]) as tf.Tensor2D;
      const embedding = cProj.apply(feature) as tf.Tensor2D;
      return { embedding, feature, tokens: map };
    });
  }
  return { encode: (images, opts) => encode(images, { training: opts.training, updateStats: opts.updateStats }) };
}
