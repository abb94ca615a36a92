// Unit tests of the supervision pieces: the NN queue (wrap-around, snapshot semantics, checkpointable state), the
// logit-scale control, option validation, FILIP helpers, and that features of micro-batches concatenate into the
// batch's (the gradient-cache requirement), including ghost-BN heads.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { NnQueue } from '../../src/supervision/nn-queue.ts';
import { clampLogitScaleParam, logitScaleValue } from '../../src/supervision/logit-scale.ts';
import { createSupervision, supervisionNames } from '../../src/supervision/index.ts';
import {
  filipSelectTokens,
  maxLastAxis,
  normalizeImageEmbedding,
  ntXentLoss,
  stopGradient,
  symmetricInfoNce,
} from '../../src/supervision/losses.ts';
import { textTokenMask } from '../../src/supervision/filip.ts';
import { scaledHeadSizes } from '../../src/supervision/head-sizes.ts';
import { yfcc15mDeclaration } from '../../run/recipes/yfcc15m.ts';
import type { TrainBatch } from '../../src/supervision/types.ts';
import { computeGradients } from '../../src/train/grad-cache.ts';

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
test.after.always(() => {
  shutdownBackend();
});

const rows = (n: number, dim: number, start: number) =>
  tf.tensor2d(
    Float32Array.from({ length: n * dim }, (_, i) => start + Math.floor(i / dim) + 1),
    [n, dim],
  );

test.serial('NN queue: entries normalised at init, wrap-around enqueue, state round trip, clear errors', (t) => {
  const q = new NnQueue(5, 3, new Rng(1));
  const s0 = q.getState();
  for (let i = 0; i < 5; i++) t.true(Math.abs(Math.hypot(...s0.bank.subarray(i * 3, i * 3 + 3)) - 1) < 1e-6);
  t.is(s0.pointer, 0);
  q.enqueue(rows(3, 3, 0)); // entries 1,2,3 at 0..2
  t.is(q.getState().pointer, 3);
  q.enqueue(rows(4, 3, 10)); // 11,12 at 3..4, then wrap: 13,14 at 0..1
  const s = q.getState();
  t.is(s.pointer, 2);
  t.deepEqual(Array.from(s.bank.filter((_, i) => i % 3 === 0)), [13, 14, 3, 11, 12]);
  q.enqueue(rows(3, 3, 20)); // exactly reaching the end resets the pointer to 0 (the seed's `>=`)
  t.is(q.getState().pointer, 0);
  const copy = new NnQueue(5, 3, new Rng(99));
  copy.setState(q.getState());
  t.deepEqual(copy.getState(), q.getState());
  t.throws(() => copy.setState({ ...q.getState(), dim: 4 }), { message: /state is \[5, 4\], queue is \[5, 3\]/ });
  t.throws(() => copy.setState({ ...q.getState(), pointer: 5 }), { message: /pointer 5 out of range/ });
  t.throws(() => q.enqueue(rows(1, 4, 0)), { message: /rows have dim 4, queue has 3/ });
  t.throws(() => new NnQueue(0, 3, new Rng(1)), { message: /size must be a positive integer/ });
  q.dispose();
  copy.dispose();
});

test.serial('NN queue: top-1 cosine look-up sees the snapshot until the next enqueue', (t) => {
  const q = new NnQueue(4, 2, new Rng(3));
  q.setState({ size: 4, dim: 2, pointer: 0, bank: Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]) });
  const query = tf.tensor2d([
    [0.9, 0.1],
    [0.1, -5],
    [-2, 0.5],
  ]);
  t.deepEqual(Array.from(q.nearestIndices(query)), [0, 3, 2]);
  t.deepEqual(Array.from(q.lookup(query).dataSync()), [1, 0, 0, -1, -1, 0]);
  q.enqueue(tf.tensor2d([[0.6, 0.8]]));
  t.deepEqual(Array.from(q.nearestIndices(tf.tensor2d([[0.5, 0.6]]))), [0]); // slot 0 now holds (0.6, 0.8)
  q.dispose();
});

test.serial('logit scale: forward cap with the seed gradient, parameter clamp', (t) => {
  for (const [theta, cap, value, grad] of [
    [4.8, 100, 100, Math.exp(4.8)],
    [3.5, 100, Math.exp(3.5), Math.exp(3.5)],
    [4.8, null, Math.exp(4.8), Math.exp(4.8)],
  ] as const) {
    const th = tf.scalar(theta);
    const g = tf.grad((x: tf.Tensor) => logitScaleValue(x, cap))(th);
    t.true(Math.abs(logitScaleValue(th, cap).dataSync()[0] - value) < 1e-3 * value);
    t.true(Math.abs(g.dataSync()[0] - grad) < 1e-3 * grad);
  }
  const v = tf.variable(tf.scalar(Math.log(1 / 0.07)));
  clampLogitScaleParam(v, [3, 6]);
  t.is(v.dataSync()[0], 3);
  v.assign(tf.scalar(7));
  clampLogitScaleParam(v, [3, 6]);
  t.is(v.dataSync()[0], 6);
  clampLogitScaleParam(v, null);
  t.is(v.dataSync()[0], 6);
});

test.serial('loss sanity: perfect alignment gives ~0 InfoNCE, NT-Xent prefers matching views', (t) => {
  const u = normalizeImageEmbedding(tf.eye(4) as tf.Tensor2D);
  t.true(symmetricInfoNce(u, u, tf.scalar(100)).dataSync()[0] < 1e-6);
  t.true(symmetricInfoNce(u, tf.reverse(u, 0) as tf.Tensor2D, tf.scalar(100)).dataSync()[0] > 10);
  const h = tf.randomNormal([6, 5], 0, 1, 'float32', 3) as tf.Tensor2D;
  const noisy = tf.add(h, tf.randomNormal([6, 5], 0, 0.01, 'float32', 4)) as tf.Tensor2D;
  t.true(
    ntXentLoss(h, noisy, 0.1).dataSync()[0] < ntXentLoss(h, tf.reverse(noisy, 0) as tf.Tensor2D, 0.1).dataSync()[0],
  );
});

test.serial('FILIP helpers: EOT mask, top-k keeps the best-matching tokens, topK 0 keeps all', (t) => {
  const ids = tf.tensor2d(
    [
      [8, 3, 9, 0, 0],
      [8, 9, 0, 0, 0],
    ],
    [2, 5],
    'int32',
  );
  t.deepEqual(textTokenMask(ids).arraySync(), [
    [1, 1, 1, 0, 0],
    [1, 1, 0, 0, 0],
  ]);
  // Image token 2 of each sample matches every text token; it must be selected with k = 1.
  const x = tf.tensor3d([
    [
      [1, 0],
      [0, 1],
      [0.7, 0.7],
    ],
    [
      [0, 1],
      [1, 0],
      [0.7, 0.7],
    ],
  ]);
  const y = tf.tensor3d([
    [
      [0.8, 0.6],
      [0.6, 0.8],
    ],
    [
      [0.6, 0.8],
      [0.8, 0.6],
    ],
  ]);
  const sel = filipSelectTokens(x, y, { topK: 1 });
  const f7 = Math.fround(0.7);
  t.deepEqual(sel.imageSelected.arraySync(), [[[f7, f7]], [[f7, f7]]]);
  t.deepEqual(filipSelectTokens(x, y, { topK: 0 }).imageSelected.shape, [2, 3, 2]);
});

test.serial('maxLastAxis and stopGradient: values and gradients of the custom-gradient ops', (t) => {
  const x = tf.tensor3d([
    [
      [1, 5, 2],
      [0, -1, 3],
    ],
    [
      [4, 4.5, -2],
      [7, 1, 0],
    ],
  ]);
  const w = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  t.deepEqual(maxLastAxis(x).arraySync(), tf.max(x, -1).arraySync());
  const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(maxLastAxis(v), w)))(x);
  const stock = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.max(v, -1), w)))(x);
  t.deepEqual(ours.arraySync(), stock.arraySync());
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(tf.mul(stopGradient(v), v), v)))(tf.tensor1d([2, 3]));
  t.deepEqual(Array.from(g.dataSync()), [3, 4]); // d/dv (sg(v)·v + v) = sg(v) + 1
});

test.serial('registry and options: seed defaults, declared views, one-line errors', (t) => {
  t.deepEqual(supervisionNames, ['clip', 'declip', 'slip', 'filip', 'defilip', 'siglip']);
  const views = Object.fromEntries(
    supervisionNames.map((n) => {
      const s = createSupervision(n);
      return [n, [s.imageViews, s.textViews]];
    }),
  );
  t.deepEqual(views, {
    clip: [['clip'], ['raw']],
    declip: [
      ['mocov2', 'mocov2'],
      ['mlm', 'eda'],
    ],
    slip: [['clip', 'simclr', 'simclr'], ['raw']],
    filip: [['mocov2'], ['mlm']],
    defilip: [
      ['mocov2', 'mocov2'],
      ['mlm', 'eda'],
    ],
    siglip: [['clip'], ['raw']],
  });
  t.like(createSupervision('declip').options, {
    mvWeight: 0.4,
    simsiamWeight: 0.2,
    mlmWeight: 0.2,
    nnWeight: 0.2,
    queueSize: null,
    projectorHidden: null,
    predictorHidden: null,
    headGhostSize: 128,
    maxLogitScale: 100,
  });
  t.like(createSupervision('slip').options, {
    clipWeight: 1,
    simclrWeight: 1,
    temperature: 0.1,
    mlpHidden: null,
    mlpOut: null,
    maxLogitScale: null,
  });
  t.like(createSupervision('filip').options, {
    clipWeight: 0,
    filipWeight: 1,
    topK: 16,
    denseDim: null,
    textPadding: 'include',
  });
  t.like(createSupervision('defilip').options, { mvWeight: 0.4, filipWeight: 0.2, topK: 16 });
  t.throws(() => createSupervision('simclr'), {
    message: 'unknown supervision "simclr" (known: clip, declip, slip, filip, defilip, siglip)',
  });
  t.throws(() => createSupervision('declip', { nnWieght: 0.3 }), {
    message: /supervision declip: unknown option "nnWieght" \(known: mvWeight/,
  });
  t.throws(() => createSupervision('slip', { temperature: '0.1' }), {
    message: /option "temperature" has the wrong type/,
  });
  t.throws(() => createSupervision('filip', { textPadding: 'drop' }), {
    message: /textPadding" must be 'include' or 'exclude'/,
  });
  t.throws(() => createSupervision('clip', { logitScaleRange: [6, 3] }), {
    message: /logitScaleRange must be null or \[lo, hi\]/,
  });
  t.notThrows(() => createSupervision('clip', { maxLogitScale: null, logitScaleRange: null }));
});

function tinyBatch(n: number, views: number, ctx: number, vocab: number, seed: number): TrainBatch {
  const rng = new Rng(seed);
  const ids = () =>
    tf.tensor2d(
      Int32Array.from({ length: n * ctx }, (_, i) =>
        i % ctx === 0 ? vocab - 2 : i % ctx === 6 ? vocab - 1 : i % ctx > 6 ? 0 : 1 + rng.int(vocab - 4),
      ),
      [n, ctx],
      'int32',
    );
  const labels = tf.tensor2d(
    Int32Array.from({ length: n * ctx }, (_, i) =>
      i % ctx >= 1 && i % ctx <= 5 && rng.bernoulli(0.4) ? 1 + rng.int(vocab - 4) : -100,
    ),
    [n, ctx],
    'int32',
  );
  return {
    images: Array.from({ length: views }, () =>
      tf.tensor4d(
        Float32Array.from({ length: n * 32 * 32 * 3 }, () => rng.normal()),
        [n, 32, 32, 3],
      ),
    ),
    texts: { raw: ids(), eda: ids(), mlm: ids(), mlmLabels: labels },
  };
}

const slice = (b: TrainBatch, start: number, size: number): TrainBatch => ({
  images: b.images.map((x) => tf.slice(x, start, size)),
  texts: Object.fromEntries(Object.entries(b.texts).map(([k, v]) => [k, tf.slice(v!, start, size)])),
});

test.serial(
  'features of micro-batches concatenate into the batch features (gradient cache), ghost-BN heads included',
  (t) => {
    const config = buildClipConfig('tiny', { text: { vocabSize: 64, contextLength: 12 } });
    const options: Record<string, Record<string, unknown>> = {
      clip: {},
      declip: { projectorHidden: 16, projectorOut: 16, predictorHidden: 8, queueSize: 32, headGhostSize: 4 },
      slip: { mlpHidden: 16, mlpOut: 8, headGhostSize: 4 },
      filip: { denseDim: 8, topK: 3, textPadding: 'exclude' },
      defilip: {
        projectorHidden: 16,
        projectorOut: 16,
        predictorHidden: 8,
        queueSize: 32,
        headGhostSize: 4,
        denseDim: 8,
        topK: 3,
      },
    };
    for (const name of supervisionNames) {
      const sup = createSupervision(name, options[name]);
      const model = createClip(config, new ParamStore(), new Rng(5));
      sup.addHeads(model, new Rng(6));
      const batch = tinyBatch(8, sup.imageViews.length, 12, 64, 7);
      const opts = { training: true, updateStats: false };
      const whole = sup.features(model, batch, opts);
      const halves = [sup.features(model, slice(batch, 0, 4), opts), sup.features(model, slice(batch, 4, 4), opts)];
      const joined = Object.fromEntries(Object.keys(whole).map((k) => [k, tf.concat([halves[0][k], halves[1][k]], 0)]));
      for (const k of Object.keys(whole)) {
        const d = tf.max(tf.abs(tf.sub(whole[k], joined[k]))).dataSync()[0];
        t.true(d < 1e-5, `${name}: feature ${k} differs by ${d} between the batch and its concatenated halves`);
      }
      const a = sup.loss(whole, model).total.dataSync()[0];
      const b = sup.loss(joined, model).total.dataSync()[0];
      t.true(Math.abs(a - b) < 1e-5 * Math.max(1, Math.abs(a)), `${name}: loss ${a} vs ${b}`);
      sup.dispose();
      model.dispose();
    }
  },
);

test.serial(
  'gradient cache (src/train/grad-cache.ts) with micro-batches of 4 reproduces the batch-of-8 gradients',
  (t) => {
    const config = buildClipConfig('tiny', { text: { vocabSize: 64, contextLength: 12 } });
    const options: Record<string, Record<string, unknown>> = {
      clip: {},
      declip: { projectorHidden: 16, projectorOut: 16, predictorHidden: 8, queueSize: 32, headGhostSize: 4 },
      slip: { mlpHidden: 16, mlpOut: 8, headGhostSize: 4 },
      filip: { denseDim: 8, topK: 3 },
      defilip: {
        projectorHidden: 16,
        projectorOut: 16,
        predictorHidden: 8,
        queueSize: 32,
        headGhostSize: 4,
        denseDim: 8,
        topK: 3,
      },
    };
    for (const name of supervisionNames) {
      const sup = createSupervision(name, options[name]);
      const model = createClip(config, new ParamStore(), new Rng(5));
      sup.addHeads(model, new Rng(6));
      const batch = tinyBatch(8, sup.imageViews.length, 12, 64, 8);
      const full = computeGradients(model, sup, batch, 0);
      const cached = computeGradients(model, sup, batch, 4);
      t.true(
        Math.abs(full.loss - cached.loss) < 1e-5 * Math.max(1, Math.abs(full.loss)),
        `${name}: loss ${full.loss} vs ${cached.loss}`,
      );
      t.deepEqual(Object.keys(cached.grads).sort(), Object.keys(full.grads).sort());
      // Relative per tensor, with the scale floored at 1e-3 of the step's largest gradient: gradients that are
      // analytically zero (a Linear bias followed by BN) hold only float32 noise.
      const maxAbs = (x: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(x)).dataSync()[0]);
      const stepMax = Math.max(...Object.values(full.grads).map(maxAbs));
      let worst = 0;
      for (const [k, g] of Object.entries(full.grads)) {
        const diff = tf.tidy(() => maxAbs(tf.sub(g, cached.grads[k])));
        const d = diff / Math.max(maxAbs(g), 1e-3 * stepMax);
        worst = Math.max(worst, d);
        t.true(d < 1e-4, `${name}: gradient of ${k} differs by ${d.toExponential(2)} (relative)`);
      }
      t.log(
        `${name}: ${Object.keys(full.grads).length} gradients, worst relative difference ${worst.toExponential(2)}`,
      );
      for (const r of [full, cached]) {
        for (const g of Object.values(r.grads)) g.dispose();
        for (const f of Object.values(r.features)) f.dispose();
      }
      sup.dispose();
      model.dispose();
    }
  },
);

test.serial('DeCLIP state: the NN queue round-trips through getState/setState and must follow addHeads', (t) => {
  const config = buildClipConfig('tiny', { text: { vocabSize: 64, contextLength: 12 } });
  const opts = { projectorHidden: 16, projectorOut: 16, predictorHidden: 8, queueSize: 32 };
  const a = createSupervision('declip', opts);
  t.throws(() => a.setState({}), { message: /state has no nnQueue/ });
  t.throws(() => a.setState({ nnQueue: {} }), { message: /call addHeads\(model, rng\) before setState/ });
  const model = createClip(config, new ParamStore(), new Rng(5));
  t.throws(() => a.features(model, tinyBatch(2, 2, 12, 64, 1), { training: true }), {
    message: /call addHeads\(model, rng\) before features/,
  });
  t.throws(() => a.afterStep(model, {}), { message: /call addHeads\(model, rng\) before afterStep/ });
  a.addHeads(model, new Rng(1));
  t.throws(() => a.addHeads(model, new Rng(1)), { message: /addHeads was already called/ });
  const f = a.features(model, tinyBatch(4, 2, 12, 64, 2), { training: true });
  a.afterStep(model, f);
  const b = createSupervision('declip', opts);
  const model2 = createClip(config, new ParamStore(), new Rng(5));
  b.addHeads(model2, new Rng(2));
  t.notDeepEqual(b.getState(), a.getState());
  b.setState(a.getState());
  t.deepEqual(b.getState(), a.getState());
  t.is((a.getState().nnQueue as { pointer: number }).pointer, 8);
  t.throws(() => a.features(model2, tinyBatch(2, 2, 12, 64, 1), { training: true }), {
    message: /model differs from the one passed to addHeads/,
  });
  a.dispose();
  b.dispose();
  model.dispose();
  model2.dispose();
});

test.serial('FILIP dense zero-shot scorer: image tokens score highest against their own caption tokens', (t) => {
  const config = buildClipConfig('tiny', { text: { vocabSize: 64, contextLength: 12 } });
  const sup = createSupervision('filip', { denseDim: 8, topK: 3 });
  const model = createClip(config, new ParamStore(), new Rng(5));
  sup.addHeads(model, new Rng(6));
  const batch = tinyBatch(3, 1, 12, 64, 9);
  const img = sup.dense!.imageTokens(model, batch.images[0]);
  const txt = sup.dense!.textTokens(model, batch.texts.raw!);
  t.deepEqual(img.shape, [3, 16, 8]);
  t.deepEqual(txt.tokens.shape, [3, 12, 8]);
  t.is(txt.mask, undefined);
  const scores = sup.dense!.scores(img, txt.tokens);
  t.deepEqual(scores.shape, [3, 3]);
  // A text made of the image's own tokens scores 1 (every token's best match is itself).
  const self = sup.dense!.scores(img, img).arraySync();
  for (let i = 0; i < 3; i++) t.true(Math.abs(self[i][i] - 1) < 1e-5);
  sup.dispose();
  model.dispose();
});

test.serial('head and queue sizes scale with the model by default; explicit sizes are kept', (t) => {
  // the seed's sizes are the ViT-B/32 point of the scaling (joint embedding width 512)
  t.deepEqual(scaledHeadSizes({ embedDim: 512 }), {
    projectorHidden: 1024,
    projectorOut: 1024,
    predictorHidden: 512,
    mlpHidden: 4096,
    mlpOut: 256,
    denseDim: 256,
    queueSize: 65536,
  });
  const config = buildClipConfig('tiny');
  const trainable = (store: ParamStore) => store.trainableEntries().reduce((a, e) => a + e.variable.size, 0);
  const sizeOf = (name: string, options: Record<string, unknown>) => {
    const model = createClip(config, new ParamStore(), new Rng(1));
    const bare = trainable(model.store);
    const sup = createSupervision(name, options);
    sup.addHeads(model, new Rng(2));
    const heads = trainable(model.store) - bare;
    const resolved = { ...sup.options };
    sup.dispose();
    model.dispose();
    return { bare, heads, resolved };
  };
  // SLIP on the tiny model: the seed's 4096-4096-256 MLP is several times the model; the scaled one a small part of it
  const seedSlip = sizeOf('slip', { mlpHidden: 4096, mlpOut: 256 });
  t.true(seedSlip.heads > 5 * seedSlip.bare, `seed-sized SLIP heads ${seedSlip.heads} vs model ${seedSlip.bare}`);
  const slip = sizeOf('slip', {});
  t.true(slip.heads < 0.15 * slip.bare, `scaled SLIP heads ${slip.heads} vs model ${slip.bare}`);
  t.like(slip.resolved, { mlpHidden: 512, mlpOut: 32 });
  t.like(sizeOf('declip', {}).resolved, {
    projectorHidden: 128,
    projectorOut: 128,
    predictorHidden: 64,
    queueSize: 8192,
  });
  t.like(sizeOf('defilip', { queueSize: 100 }).resolved, { projectorHidden: 128, denseDim: 32, queueSize: 100 });
  t.like(sizeOf('filip', { denseDim: 16 }).resolved, { denseDim: 16 });
  t.throws(() => createSupervision('slip', { mlpHidden: 0 }), {
    message: 'supervision slip: option "mlpHidden" must be a positive integer, got 0',
  });
  // the YFCC-15M recipes reproduce the seed: its sizes, stated explicitly, for every tower
  for (const name of supervisionNames) {
    const options = yfcc15mDeclaration(name).supervision?.options ?? {};
    if (name === 'declip' || name === 'defilip')
      t.like(options, { projectorHidden: 1024, projectorOut: 1024, predictorHidden: 512, queueSize: 65536 });
    if (name === 'slip') t.like(options, { mlpHidden: 4096, mlpOut: 256 });
    if (name === 'filip' || name === 'defilip') t.like(options, { denseDim: 256 });
  }
});
