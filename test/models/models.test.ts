import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { inferClipConfig } from '../../src/weights/infer-config.ts';

/** Shapes of the store's entries in PyTorch layout (what a checkpoint of this model would hold), without data. */
function torchShapes(store: ParamStore): Map<string, { shape: number[] }> {
  const out = new Map<string, { shape: number[] }>();
  for (const e of store.entries()) {
    const s = e.variable.shape as number[];
    const shape =
      e.meta.torchLayout === 'linear'
        ? [s[1], s[0]]
        : e.meta.torchLayout === 'conv'
          ? [s[3], s[2], s[0], s[1]]
          : s.slice();
    out.set(e.name, { shape });
  }
  return out;
}

test.before(async () => {
  await tf.setBackend('cpu');
});

const paramCount = (store: ParamStore) =>
  store
    .entries()
    .filter((e) => e.meta.kind !== 'buffer')
    .reduce((a, e) => a + e.variable.size, 0);

test.serial('full-size presets have exactly OpenAI CLIP parameter counts and infer back from their shapes', (t) => {
  // OpenAI CLIP ViT-B/32: 151,277,313 parameters; RN50: 102,007,137 (sum of p.numel() over model.parameters()).
  for (const [preset, expected, visionCfg] of [
    [
      'vit-b32',
      151277313,
      { type: 'vit', imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, freezePatchEmbedding: true },
    ],
    ['rn50', 102007137, { type: 'modified-resnet', imageSize: 224, layers: [3, 4, 6, 3], width: 64, heads: 32 }],
  ] as const) {
    const store = new ParamStore();
    createClip(buildClipConfig(preset), store, new Rng(1));
    t.is(paramCount(store), expected, preset);
    const inferred = inferClipConfig(torchShapes(store)).config;
    t.deepEqual(inferred.vision, visionCfg);
    t.like(inferred.text, { width: 512, layers: 12, heads: 8, contextLength: 77, vocabSize: 49408 });
    store.dispose();
  }
});

test.serial('tiny ViT CLIP: output shapes, deterministic init, frozen patch embedding, metadata', (t) => {
  const cfg = buildClipConfig('tiny');
  const a = createClip(cfg, new ParamStore(), new Rng(7));
  const b = createClip(cfg, new ParamStore(), new Rng(7));
  const c = createClip(cfg, new ParamStore(), new Rng(8));
  for (const name of ['visual.conv1.weight', 'transformer.resblocks.1.mlp.c_fc.weight', 'text_projection']) {
    t.deepEqual(Array.from(a.store.get(name).dataSync()), Array.from(b.store.get(name).dataSync()), name);
    t.notDeepEqual(Array.from(a.store.get(name).dataSync()), Array.from(c.store.get(name).dataSync()), name);
  }
  t.false(a.store.meta('visual.conv1.weight').trainable);
  t.false(a.store.get('visual.conv1.weight').trainable);
  t.like(a.store.meta('logit_scale'), { kind: 'logit_scale', decay: false });
  t.true(Math.abs(a.logitScale.dataSync()[0] - Math.log(1 / 0.07)) < 1e-6);
  t.like(a.store.meta('visual.class_embedding'), { kind: 'embedding', decay: true });
  const images = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const img = a.encodeImage(images, { training: true });
  t.deepEqual(img.embedding.shape, [3, 64]);
  t.deepEqual(img.feature.shape, [3, 64]);
  t.deepEqual(img.tokens.shape, [3, 16, 64]);
  t.throws(() => a.encodeImage(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D, { training: false }), {
    message: /expected NHWC images \[B, 32, 32, 3\]/,
  });
  const { grads } = tf.variableGrads(() => tf.sum(a.encodeImage(images, { training: true }).embedding) as tf.Scalar);
  t.falsy(grads[a.store.get('visual.conv1.weight').name], 'frozen conv1 gets no gradient');
  t.truthy(grads[a.store.get('visual.positional_embedding').name]);
  a.dispose();
  b.dispose();
  c.dispose();
});

test.serial('text tower: causal (later tokens do not change earlier features), pools at the largest id (EOT)', (t) => {
  const cfg = buildClipConfig('tiny', { text: { vocabSize: 100, contextLength: 12 } });
  const m = createClip(cfg, new ParamStore(), new Rng(2));
  const row = (tail: number[]) => [97, 5, 6, 99, ...tail, ...new Array(12 - 4 - tail.length).fill(0)];
  const ids = tf.tensor2d([row([]), row([7, 8])], [2, 12], 'int32');
  const out = m.encodeText(ids, { training: false });
  t.deepEqual(out.wordFeatures.shape, [2, 12, 64]);
  const wf = out.wordFeatures.arraySync() as number[][][];
  for (let p = 0; p < 4; p++) for (let d = 0; d < 64; d++) t.true(Math.abs(wf[0][p][d] - wf[1][p][d]) < 1e-5);
  const emb = out.embedding.arraySync() as number[][];
  for (let d = 0; d < 64; d++) t.true(Math.abs(emb[0][d] - emb[1][d]) < 1e-5, 'EOT at position 3 in both rows');
  const moved = m
    .encodeText(tf.tensor2d([[97, 5, 99, ...new Array(9).fill(0)]], [1, 12], 'int32'), { training: false })
    .embedding.arraySync() as number[][];
  t.true(moved[0].some((v, d) => Math.abs(v - emb[0][d]) > 1e-4));
  t.throws(() => m.encodeText(tf.zeros([1, 77], 'int32') as tf.Tensor2D, { training: false }), {
    message: /expected ids \[B, 12\]/,
  });
  m.dispose();
});

test.serial('tiny ResNet CLIP: shapes, BN train/eval, ghost BN changes training outputs only', (t) => {
  const plain = createClip(buildClipConfig('tiny-rn'), new ParamStore(), new Rng(3));
  const ghost = createClip(buildClipConfig('tiny-rn', { vision: { bnGhostSize: 2 } }), new ParamStore(), new Rng(3));
  const images = tf.randomNormal([4, 64, 64, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const e1 = plain.encodeImage(images, { training: false });
  t.deepEqual(e1.embedding.shape, [4, 64]);
  t.deepEqual(e1.feature.shape, [4, 256]);
  t.deepEqual(e1.tokens.shape, [4, 4, 256]);
  t.deepEqual(
    Array.from(ghost.encodeImage(images, { training: false }).embedding.dataSync()),
    Array.from(e1.embedding.dataSync()),
  );
  const tp = plain.encodeImage(images, { training: true }).embedding.dataSync();
  const tg = ghost.encodeImage(images, { training: true }).embedding.dataSync();
  t.notDeepEqual(Array.from(tp), Array.from(tg));
  t.notDeepEqual(Array.from(tp), Array.from(e1.embedding.dataSync()));
  t.is(plain.store.get('visual.layer1.0.bn1.num_batches_tracked').dataSync()[0], 1);
  plain.encodeImage(images, { training: true, updateStats: false });
  t.is(plain.store.get('visual.layer1.0.bn1.num_batches_tracked').dataSync()[0], 1);
  t.deepEqual(
    Array.from(plain.store.get('visual.layer1.0.bn3.weight').dataSync()),
    new Array(32).fill(0),
    'bottleneck bn3 gamma starts at zero',
  );
  plain.dispose();
  ghost.dispose();
});

test('unknown presets give a one-line error listing the known ones', (t) => {
  t.throws(() => buildClipConfig('vit-h14'), {
    message: /unknown model "vit-h14" \(known: vit-b32, vit-b16, rn50, rn101, tiny, tiny-rn\)/,
  });
});
