import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createBatchNorm } from '../../src/nn/batch-norm.ts';
import { createLinear } from '../../src/nn/linear.ts';
import { createLayerNorm } from '../../src/nn/layer-norm.ts';
import { createMultiHeadAttention, causalMask } from '../../src/nn/attention.ts';
import { quickGelu } from '../../src/nn/activations.ts';
import { normalInit } from '../../src/nn/init.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

function close(t: any, a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  t.is(a.length, b.length, what + ' length');
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + 1e-6));
  t.true(worst < tol, `${what}: worst relative error ${worst}`);
}

function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.normal()),
    shape,
  );
}

test.serial('ParamStore: metadata defaults, trainable set, record round trip, clear errors', (t) => {
  const store = new ParamStore();
  const rng = new Rng(1);
  createLinear(store, 'fc', 3, 2, rng);
  createLayerNorm(store, 'ln', 2);
  createBatchNorm(store, 'bn', 2);
  t.deepEqual(store.names(), [
    'fc.weight',
    'fc.bias',
    'ln.weight',
    'ln.bias',
    'bn.weight',
    'bn.bias',
    'bn.running_mean',
    'bn.running_var',
    'bn.num_batches_tracked',
  ]);
  t.like(store.meta('fc.weight'), { kind: 'weight', decay: true, trainable: true, torchLayout: 'linear' });
  t.like(store.meta('fc.bias'), { kind: 'bias', decay: false });
  t.like(store.meta('bn.running_var'), { kind: 'buffer', trainable: false, decay: false });
  t.is(store.trainableVariables().length, 6);
  t.is(store.buffers().length, 3);
  const rec = store.toRecord();
  const other = new ParamStore();
  createLinear(other, 'fc', 3, 2, new Rng(2));
  createLayerNorm(other, 'ln', 2);
  createBatchNorm(other, 'bn', 2);
  other.load(rec);
  t.deepEqual(Array.from(other.get('fc.weight').dataSync()), Array.from(store.get('fc.weight').dataSync()));
  t.throws(() => store.get('nope'), { message: /no parameter named "nope"/ });
  t.throws(() => store.assign('fc.weight', [1, 2], [2]), { message: /shape mismatch/ });
  store.dispose();
  other.dispose();
});

test.serial(
  'batchNorm: training uses batch stats and updates running stats like PyTorch; eval uses running stats',
  (t) => {
    const store = new ParamStore();
    const bn = createBatchNorm(store, 'bn', 3);
    const rng = new Rng(3);
    const x = randn(rng, [4, 2, 2, 3]);
    const y = bn.apply(x, { training: true });
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    for (const m of mean.dataSync()) t.true(Math.abs(m) < 1e-5);
    for (const v of variance.dataSync()) t.true(Math.abs(v - 1) < 1e-3);
    const xm = tf.moments(x, [0, 1, 2]);
    const n = 16;
    close(t, bn.runningMean.dataSync(), tf.mul(xm.mean, 0.1).dataSync(), 1e-5, 'running mean');
    close(
      t,
      bn.runningVar.dataSync(),
      tf.add(0.9, tf.mul(xm.variance, (0.1 * n) / (n - 1))).dataSync(),
      1e-5,
      'running var',
    );
    t.is(bn.numBatchesTracked.dataSync()[0], 1);
    const ye = bn.apply(x, { training: false });
    const expected = tf.div(tf.sub(x, bn.runningMean), tf.sqrt(tf.add(bn.runningVar, 1e-5)));
    close(t, ye.dataSync(), expected.dataSync(), 1e-4, 'eval');
    bn.apply(x, { training: true, updateStats: false });
    t.is(bn.numBatchesTracked.dataSync()[0], 1);
    store.dispose();
  },
);

test.serial(
  'batchNorm: ghostSize normalises each chunk separately; gradients flow inside variableGrads while stats update',
  (t) => {
    const store = new ParamStore();
    const ghost = createBatchNorm(store, 'g', 2, { ghostSize: 3 });
    const rng = new Rng(4);
    const x = randn(rng, [7, 2]);
    const y = ghost.apply(x, { training: true });
    // chunks [0,3), [3,6), [6,7): each chunk of size > 1 has zero mean per channel
    for (const [s, n] of [
      [0, 3],
      [3, 3],
    ]) {
      for (const m of tf.mean(tf.slice(y, s, n), 0).dataSync()) t.true(Math.abs(m) < 1e-5);
    }
    const plain = createBatchNorm(store, 'p', 2);
    const yp = plain.apply(x, { training: true });
    t.notDeepEqual(Array.from(y.dataSync()), Array.from(yp.dataSync()));

    const before = Array.from(plain.runningMean.dataSync());
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(tf.mul(plain.apply(x, { training: true }), tf.range(1, 15).reshape([7, 2])))) as tf.Scalar,
    );
    t.true(value.dataSync()[0] > 0);
    t.truthy(grads[plain.weight.name]);
    t.truthy(grads[plain.bias.name]);
    t.falsy(grads[plain.runningMean.name]);
    t.notDeepEqual(Array.from(plain.runningMean.dataSync()), before);
    t.is(plain.numBatchesTracked.dataSync()[0], 2);
    // finite-difference check of d/dgamma
    const f = (g: number[]) =>
      tf.tidy(() => {
        plain.weight.assign(tf.tensor1d(g));
        return tf
          .sum(
            tf.square(tf.mul(plain.apply(x, { training: true, updateStats: false }), tf.range(1, 15).reshape([7, 2]))),
          )
          .dataSync()[0];
      });
    const g0 = Array.from(plain.weight.dataSync());
    const eps = 1e-2;
    const num = (f([g0[0] + eps, g0[1]]) - f([g0[0] - eps, g0[1]])) / (2 * eps);
    close(t, [grads[plain.weight.name].dataSync()[0]], [num], 1e-2, 'dgamma');
    store.dispose();
  },
);

test.serial('multiHeadAttention matches a per-head reference computation, causal mask hides the future', (t) => {
  const store = new ParamStore();
  const rng = new Rng(5);
  const W = 8,
    H = 2,
    T = 4,
    B = 2;
  const mha = createMultiHeadAttention(store, 'attn', W, H, rng, { inStd: 0.5, outStd: 0.5 });
  store.get('attn.in_proj_bias').assign(randn(rng, [3 * W]));
  const x = randn(rng, [B, T, W]) as tf.Tensor3D;
  const mask = causalMask(T);
  const y = mha.apply(x, mask);
  // reference: explicit loops over batch and heads
  const xs = x.arraySync() as number[][][];
  const Win = mha.inProjWeight.arraySync() as number[][];
  const bin = mha.inProjBias.arraySync() as number[];
  const Wout = mha.outProjWeight.arraySync() as number[][];
  const bout = mha.outProjBias.arraySync() as number[];
  const D = W / H;
  const ref: number[] = [];
  for (let b = 0; b < B; b++) {
    const proj = xs[b].map((row) =>
      Array.from({ length: 3 * W }, (_, j) => bin[j] + row.reduce((s, v, i) => s + v * Win[i][j], 0)),
    );
    const concat = Array.from({ length: T }, () => new Array(W).fill(0));
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const scores = [];
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += proj[i][h * D + d] * proj[j][W + h * D + d];
          scores.push(s / Math.sqrt(D));
        }
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, c) => a + c, 0);
        for (let d = 0; d < D; d++)
          concat[i][h * D + d] = e.reduce((s, w, j) => s + (w / z) * proj[j][2 * W + h * D + d], 0);
      }
    }
    for (const row of concat)
      for (let j = 0; j < W; j++) ref.push(bout[j] + row.reduce((s, v, i) => s + v * Wout[i][j], 0));
  }
  close(t, y.dataSync(), ref, 1e-4, 'attention');
  t.like(store.meta('attn.in_proj_bias'), { decay: true });
  t.like(store.meta('attn.out_proj.bias'), { decay: false });
  store.dispose();
});

test.serial('quickGelu is x * sigmoid(1.702 x)', (t) => {
  const x = tf.tensor1d([-2, -0.5, 0, 0.5, 3]);
  close(
    t,
    quickGelu(x).dataSync(),
    [-2, -0.5, 0, 0.5, 3].map((v) => v / (1 + Math.exp(-1.702 * v))),
    1e-5,
    'quickGelu',
  );
});

test.serial('normalInit draws N(mean, std) deterministically from the Rng', (t) => {
  const a = normalInit(new Rng(11), [20001], 0.5, 1).dataSync() as Float32Array;
  const b = normalInit(new Rng(11), [20001], 0.5, 1).dataSync();
  t.deepEqual(Array.from(a.slice(0, 50)), Array.from(b.slice(0, 50)));
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
  t.true(Math.abs(mean - 1) < 0.02, `mean ${mean}`);
  t.true(Math.abs(sd - 0.5) < 0.02, `std ${sd}`);
  t.true(Number.isFinite(a[20000]));
});
