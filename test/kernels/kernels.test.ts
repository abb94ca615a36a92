// Each project kernel (src/kernels/) against the cpu backend (or an exact JS reference), with gradients where the
// kernel is a gradient or sits on a gradient path. Backend state is global: all tests are serial.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { stockKernel } from '../../src/kernels/register.ts';
import { batchMatMulRouting } from '../../src/kernels/batch-mat-mul.ts';
import { convRouting } from '../../src/kernels/conv2d.ts';
import { ADDON_PATH, nativeBlasStatus, setNativeBlas } from '../../src/kernels/native-blas.ts';

type Arrays = Float32Array[];

/** Run f on a backend with fresh tensors made from plain data; returns the results' data. */
async function on(backend: 'wasm' | 'cpu', f: () => tf.Tensor | tf.Tensor[]): Promise<Arrays> {
  await tf.setBackend(backend);
  const out = tf.tidy(() => {
    const r = f();
    return Array.isArray(r) ? r : [r];
  });
  const data = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(out);
  await tf.setBackend('wasm');
  return data;
}

function relErr(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Infinity;
  let maxDiff = 0,
    maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
  }
  return maxDiff / Math.max(maxAbs, 1e-12);
}

function randn(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
}

test.before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});
test.after.always(() => shutdownBackend());

// Products run through the native BLAS addon when it is built, else through XNNPACK: the product tests run on every
// path this machine has, switching in-process.
type MatMulPath = 'native BLAS' | 'XNNPACK';
// (test titles are fixed before the backend starts: the path list follows from whether the addon is built)
const matMulPaths: MatMulPath[] = existsSync(ADDON_PATH) ? ['native BLAS', 'XNNPACK'] : ['XNNPACK'];

/** Run f with products on `path` (the test fails if that path is unavailable), then restore the default. */
async function onPath<T>(t: ExecutionContext, path: MatMulPath, f: () => Promise<T> | T): Promise<T> {
  const defaultOn = nativeBlasStatus().active;
  const on = setNativeBlas(path === 'native BLAS');
  if (on !== (path === 'native BLAS')) t.fail(`matmul path ${path} unavailable: ${nativeBlasStatus().reason}`);
  try {
    return await f();
  } finally {
    setNativeBlas(defaultOn);
  }
}

// ---- BatchMatMul / _FusedMatMul --------------------------------------------------------------------------------

const matMulCases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
  { a: [33, 47], b: [47, 29], ta: false, tb: false },
  { a: [47, 33], b: [47, 29], ta: true, tb: false }, // dW = xᵀ dy
  { a: [33, 47], b: [29, 47], ta: false, tb: true }, // dx = dy Wᵀ
  { a: [47, 33], b: [29, 47], ta: true, tb: true },
  { a: [3, 5, 40, 24], b: [24, 31], ta: false, tb: false }, // shared right-hand side folded into rows
  { a: [3, 5, 40, 24], b: [3, 5, 31, 24], ta: false, tb: true }, // attention scores
  { a: [3, 5, 24, 40], b: [3, 5, 24, 31], ta: true, tb: false },
  { a: [6, 12, 9], b: [9, 7], ta: false, tb: false },
  { a: [12, 9], b: [4, 9, 7], ta: false, tb: false }, // shared left-hand side
  { a: [4, 1, 10, 6], b: [3, 6, 5], ta: false, tb: false }, // broadcast batch dims
  { a: [6, 2, 17, 17], b: [6, 2, 17, 32], ta: false, tb: false }, // small items: stock loop, one call
  { a: [6, 2, 17, 32], b: [6, 2, 17, 32], ta: true, tb: false },
  { a: [6, 2, 17, 32], b: [6, 2, 17, 32], ta: false, tb: true },
];

/** Reference reduction (independent of the kernel's own): sum broadcast axes one at a time. */
function sumLike(g: tf.Tensor, shape: number[]): tf.Tensor {
  let r = g;
  while (r.rank > shape.length) r = tf.sum(r, 0);
  shape.forEach((d, i) => {
    if (d === 1 && r.shape[i] !== 1) r = tf.sum(r, i, true);
  });
  return r;
}

for (const [c, path] of matMulCases.flatMap((c) => matMulPaths.map((p) => [c, p] as const))) {
  test.serial(
    `BatchMatMul (${path}) [${c.a}]${c.ta ? 'ᵀ' : ''} x [${c.b}]${c.tb ? 'ᵀ' : ''} matches cpu, value and gradients`,
    (t) =>
      onPath(t, path, async () => {
        const ad = randn(c.a, 1),
          bd = randn(c.b, 2);
        const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(c.a.slice(0, -2), c.b.slice(0, -2));
        const run = (explicitBroadcast: boolean) => () => {
          let a: tf.Tensor = tf.tensor(ad, c.a),
            b: tf.Tensor = tf.tensor(bd, c.b);
          if (explicitBroadcast) {
            // the cpu kernel only broadcasts correctly when one batch is 1 or both are equal
            a = tf.broadcastTo(a, [...outBatch, ...c.a.slice(-2)]);
            b = tf.broadcastTo(b, [...outBatch, ...c.b.slice(-2)]);
          }
          const y = tf.matMul(a, b, c.ta, c.tb);
          const w = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
          const g = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, c.ta, c.tb), w)))([a, b]);
          return [y, ...g];
        };
        const [y, ga, gb] = await on('wasm', run(false));
        const [ry, rga, rgb] = await on('cpu', run(true));
        t.deepEqual(y!.length, ry!.length);
        t.true(relErr(y!, ry!) < 1e-5, `value rel err ${relErr(y!, ry!)}`);
        // cpu gradients are w.r.t. the explicitly broadcast operands: sum them back to the input shapes
        const [wa, wb] = await on('cpu', () => [
          sumLike(tf.tensor(rga!, [...outBatch, ...c.a.slice(-2)]), c.a),
          sumLike(tf.tensor(rgb!, [...outBatch, ...c.b.slice(-2)]), c.b),
        ]);
        t.true(relErr(ga!, wa!) < 1e-5, `dA rel err ${relErr(ga!, wa!)}`);
        t.true(relErr(gb!, wb!) < 1e-5, `dB rel err ${relErr(gb!, wb!)}`);
      }),
  );
}

test.serial('BatchMatMul leaks no tensors or views and handles many calls', (t) => {
  const before = tf.memory().numTensors;
  const a = tf.randomNormal([8, 4, 20, 16]),
    b = tf.randomNormal([8, 4, 20, 16]);
  for (let i = 0; i < 20; i++) tf.tidy(() => tf.matMul(a, b, false, true).dataSync());
  tf.dispose([a, b]);
  t.is(tf.memory().numTensors, before);
});

test.serial('BatchMatMul on XNNPACK: gradient-shaped and batched products reach XNNPACK, faster than stock', (t) =>
  onPath(t, 'XNNPACK', () => {
    const a = tf.randomNormal([800, 512]),
      b = tf.randomNormal([800, 256]);
    const q = tf.randomNormal([4, 3, 50, 64]),
      k = tf.randomNormal([4, 3, 50, 64]);
    const r0 = { ...batchMatMulRouting };
    tf.tidy(() => [
      tf.matMul(a, b, true, false),
      tf.matMul(b, a, true, false),
      tf.matMul(q, k, false, true),
      tf.matMul(q, k, true, false),
    ]);
    t.is(batchMatMulRouting.xnnCalls - r0.xnnCalls, 2 + 2 * 12, 'one XNNPACK call per 2-D product and per batch item');
    t.is(batchMatMulRouting.stockLoopProducts, r0.stockLoopProducts);
    t.is(batchMatMulRouting.blasCalls, r0.blasCalls, 'no native calls on the XNNPACK path');
    tf.tidy(() => tf.matMul(tf.ones([6, 17, 17]), tf.ones([6, 17, 32])));
    t.is(batchMatMulRouting.stockLoopProducts - r0.stockLoopProducts, 1, 'tiny items: one single-threaded stock call');
    // timing sanity (generous: the machine may be shared): the stock kernel runs the naive loop for a transposed product
    const time1 = () => {
      const t0 = performance.now();
      tf.tidy(() => tf.matMul(a, b, true, false).dataSync());
      return performance.now() - t0;
    };
    const time = () => Math.min(time1(), time1(), time1());
    time1();
    const ours = time();
    const mine = tf.getKernel('BatchMatMul', 'wasm')!;
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel(stockKernel('BatchMatMul', 'wasm')!);
    let stock: number;
    try {
      stock = time();
    } finally {
      tf.unregisterKernel('BatchMatMul', 'wasm');
      tf.registerKernel(mine);
    }
    tf.dispose([a, b, q, k]);
    t.true(ours < stock, `ours ${ours.toFixed(1)} ms vs stock ${stock.toFixed(1)} ms`);
  }),
);

if (matMulPaths.includes('native BLAS')) {
  test.serial('BatchMatMul on the native BLAS: one sgemm call per product or batch, none through XNNPACK', (t) =>
    onPath(t, 'native BLAS', () => {
      const a = tf.randomNormal([800, 512]),
        b = tf.randomNormal([800, 256]);
      const q = tf.randomNormal([4, 3, 50, 64]),
        k = tf.randomNormal([4, 3, 50, 64]);
      const x = tf.randomNormal([4, 50, 256]);
      const r0 = { ...batchMatMulRouting };
      tf.tidy(() => [
        tf.matMul(a, b, true, false), // transposes are BLAS flags
        tf.matMul(q, k, false, true), // a batch of 12 items: one call
        tf.matMul(x, b, false, true), // shared right-hand side: the batch folds into rows
        tf.matMul(tf.ones([6, 17, 17]), tf.ones([6, 17, 32])),
        tf.matMul(tf.ones([4, 1, 10, 6]), tf.ones([3, 6, 5])), // general broadcast: one call per output item
      ]);
      t.is(batchMatMulRouting.blasCalls - r0.blasCalls, 4 + 12);
      t.is(batchMatMulRouting.xnnCalls, r0.xnnCalls);
      t.is(batchMatMulRouting.stockLoopProducts, r0.stockLoopProducts);
      tf.dispose([a, b, q, k, x]);
    }),
  );

  test.serial('native BLAS reads the current heap after the wasm memory grows', (t) =>
    onPath(t, 'native BLAS', () => {
      const a = tf.randomNormal([64, 48], 0, 1, 'float32', 21),
        b = tf.randomNormal([48, 40], 0, 1, 'float32', 22);
      const want = tf.tidy(() => tf.matMul(a, b).dataSync().slice());
      // a large allocation grows the memory (a new buffer); operands allocated after it live beyond the old end
      const big = tf.zeros([64 * 2 ** 20]);
      const a2 = tf.clone(a),
        b2 = tf.clone(b);
      const got = tf.tidy(() => tf.matMul(a2, b2).dataSync());
      tf.dispose([a, b, a2, b2, big]);
      t.deepEqual(Array.from(got), Array.from(want));
    }),
  );
}

for (const path of matMulPaths) {
  test.serial(`_FusedMatMul (${path}; bias + activation, transposed, batched) matches cpu`, (t) =>
    onPath(t, path, async () => {
      const ad = randn([2, 30, 20], 4),
        bd = randn([20, 25], 5),
        bias = randn([25], 6),
        bt = randn([25, 20], 7),
        full = randn([2, 30, 25], 14);
      const f = () => {
        const a = tf.tensor(ad, [2, 30, 20]);
        const stockToo = [
          tf.fused.matMul({ a, b: tf.tensor(bd, [20, 25]), bias: tf.tensor(bias, [25]), activation: 'relu' }),
          tf.fused.matMul({ a, b: tf.tensor(bt, [25, 20]), transposeB: true, bias: tf.tensor(bias, [25]) }),
          tf.fused.matMul({ a, b: a, transposeB: true }),
          tf.fused.matMul({ a, b: a, transposeA: true, activation: 'elu', bias: tf.tensor(bias.slice(0, 20), [20]) }),
        ];
        if (path === 'XNNPACK') return stockToo; // the stock fused kernel takes rank-1 biases only
        return [
          ...stockToo,
          tf.fused.matMul({ a, b: tf.tensor(bd, [20, 25]), bias: tf.scalar(0.5), activation: 'relu6' }),
          tf.fused.matMul({ a, b: tf.tensor(bd, [20, 25]), bias: tf.tensor(bias, [1, 25]), activation: 'sigmoid' }),
          tf.fused.matMul({
            a,
            b: tf.tensor(bd, [20, 25]),
            activation: 'leakyrelu',
            leakyreluAlpha: 0.1,
          }),
          tf.fused.matMul({
            a,
            b: tf.tensor(bd, [20, 25]),
            activation: 'prelu',
            preluActivationWeights: tf.tensor(bias, [25]),
          }),
          // a bias that is not per column (a whole [2,30,25] block): added with ops
          tf.fused.matMul({ a, b: tf.tensor(bd, [20, 25]), bias: tf.tensor(full, [2, 30, 25]), activation: 'relu' }),
        ];
      };
      const got = await on('wasm', f),
        want = await on('cpu', f);
      for (let i = 0; i < want.length; i++)
        t.true(relErr(got[i]!, want[i]!) < 1e-5, `case ${i}: ${relErr(got[i]!, want[i]!)}`);
    }),
  );
}

// ---- Conv2DBackpropFilter --------------------------------------------------------------------------------------

const convCases: Array<{
  x: number[];
  k: number[];
  stride: number | [number, number];
  pad: 'valid' | 'same' | number;
}> = [
  { x: [2, 32, 32, 3], k: [8, 8, 3, 16], stride: 8, pad: 'valid' }, // ViT patch embedding (non-overlapping)
  { x: [2, 34, 33, 3], k: [8, 8, 3, 5], stride: 8, pad: 'valid' }, // patches with a cropped border
  { x: [2, 9, 9, 4], k: [3, 3, 4, 6], stride: 1, pad: 'same' },
  { x: [2, 9, 10, 4], k: [3, 3, 4, 6], stride: 2, pad: 'same' }, // asymmetric TF 'same' padding
  { x: [1, 12, 12, 3], k: [7, 7, 3, 4], stride: 2, pad: 3 }, // ResNet stem with explicit padding
  { x: [2, 8, 11, 2], k: [2, 3, 2, 3], stride: [1, 2], pad: 'valid' },
];

for (const [c, path] of convCases.flatMap((c) => matMulPaths.map((p) => [c, p] as const))) {
  test.serial(
    `Conv2D (${path}) x[${c.x}] k[${c.k}] stride ${c.stride} pad ${c.pad}: wasm value and gradients match cpu`,
    (t) =>
      onPath(t, path, async () => {
        const xd = randn(c.x, 8),
          kd = randn(c.k, 9);
        const f = () => {
          const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
          const k = tf.tensor4d(kd, c.k as [number, number, number, number]);
          const y = tf.conv2d(x, k, c.stride, c.pad);
          const w = tf.randomNormal(y.shape, 0, 1, 'float32', 10);
          const g = tf.grads((xx: tf.Tensor, kk: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, kk as tf.Tensor4D, c.stride, c.pad), w)),
          )([x, k]);
          return [y, ...g];
        };
        const r0 = { ...convRouting };
        const [y, gx, gk] = await on('wasm', f);
        const [ry, rgx, rgk] = await on('cpu', f);
        t.true(relErr(y!, ry!) < 1e-5, `y rel err ${relErr(y!, ry!)}`);
        t.true(relErr(gk!, rgk!) < 1e-5, `dW rel err ${relErr(gk!, rgk!)}`);
        t.true(relErr(gx!, rgx!) < 1e-5, `dX rel err ${relErr(gx!, rgx!)}`);
        const native = path === 'native BLAS' ? 1 : 0;
        t.deepEqual(
          [
            convRouting.forward - r0.forward,
            convRouting.filterGrad - r0.filterGrad,
            convRouting.inputGrad - r0.inputGrad,
          ],
          [2 * native, native, native],
          'native calls: forward (value and inside the gradient), filter and input gradients',
        );
      }),
  );
}

test.serial(
  'Conv2DBackpropFilter agrees with finite differences (stride 2, the case the wasm Conv3D trick gets wrong)',
  async (t) => {
    const xs: [number, number, number, number] = [1, 7, 7, 2],
      ks: [number, number, number, number] = [3, 3, 2, 2];
    const xd = randn(xs, 11),
      kd = randn(ks, 12);
    await tf.setBackend('wasm');
    const x = tf.tensor4d(xd, xs),
      w = tf.tensor4d(kd, ks);
    const r = tf.randomNormal(tf.conv2d(x, w, 2, 'same').shape, 0, 1, 'float32', 13);
    const f = (k: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, k as tf.Tensor4D, 2, 'same'), r)) as tf.Scalar;
    const analytic = tf.grad(f)(w).dataSync();
    const eps = 1e-2; // f is linear in k: central differences are exact up to float32 rounding
    let worst = 0;
    for (let i = 0; i < kd.length; i++) {
      const plus = kd.slice(),
        minus = kd.slice();
      plus[i]! += eps;
      minus[i]! -= eps;
      const numeric = tf.tidy(
        () => (f(tf.tensor4d(plus, ks)).dataSync()[0]! - f(tf.tensor4d(minus, ks)).dataSync()[0]!) / (2 * eps),
      );
      worst = Math.max(worst, Math.abs(numeric - analytic[i]!) / Math.max(1, Math.abs(numeric)));
    }
    tf.dispose([x, w, r]);
    t.true(worst < 2e-3, `worst rel diff ${worst}`);
  },
);

// ---- UnsortedSegmentSum ----------------------------------------------------------------------------------------

function segmentSumReference(x: Float32Array, ids: Int32Array, depth: number, numSegments: number): Float32Array {
  const out = new Float32Array(numSegments * depth);
  ids.forEach((s, r) => {
    if (s >= 0 && s < numSegments) for (let d = 0; d < depth; d++) out[s * depth + d]! += x[r * depth + d]!;
  });
  return out;
}

test.serial('UnsortedSegmentSum on wasm and cpu: duplicates summed, out-of-range ids dropped, int32 too', async (t) => {
  const ids = Int32Array.from([3, 0, 3, 7, -1, 9, 3, 1]);
  const xd = randn([8, 2, 3], 14);
  const want = segmentSumReference(xd, ids, 6, 8);
  for (const backend of ['wasm', 'cpu'] as const) {
    const [got, gotInt] = await on(backend, () => [
      tf.unsortedSegmentSum(tf.tensor(xd, [8, 2, 3]), tf.tensor1d(ids, 'int32'), 8),
      tf.unsortedSegmentSum(
        tf.tensor(
          [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          [3, 2],
          'int32',
        ),
        tf.tensor1d([1, 1, 0], 'int32'),
        2,
      ),
    ]);
    t.true(relErr(got!, want) < 1e-6, `${backend}: ${relErr(got!, want)}`);
    t.deepEqual(Array.from(gotInt!), [5, 6, 4, 6], backend);
  }
  await t.throwsAsync(
    on('wasm', () => tf.unsortedSegmentSum(tf.ones([4, 2]), tf.tensor1d([0, 1, 2], 'int32'), 3)),
    { message: /segmentIds shape \[3\] is not a prefix of x shape \[4,2\]/ },
  );
});

test.serial('gather gradient over a CLIP-sized vocabulary (49408 x 64, 4928 tokens) on wasm and on cpu', async (t) => {
  const vocab = 49408,
    width = 64,
    n = 64 * 77;
  const idsArr = Int32Array.from({ length: n }, (_, i) => ((i * 7919) % 400) + (i % 3) * 24500);
  const upstream = randn([n, width], 15);
  const want = segmentSumReference(upstream, idsArr, width, vocab);
  for (const backend of ['wasm', 'cpu'] as const) {
    const t0 = performance.now();
    const [g] = await on(backend, () => {
      const table = tf.zeros([vocab, width]);
      const dy = tf.tensor2d(upstream, [n, width]);
      return tf.grad((tb: tf.Tensor) => tf.sum(tf.mul(tf.gather(tb, tf.tensor1d(idsArr, 'int32')), dy)))(table);
    });
    const ms = performance.now() - t0;
    t.true(relErr(g!, want) < 1e-6, `${backend}: ${relErr(g!, want)}`);
    t.true(ms < 5000, `${backend} took ${ms.toFixed(0)} ms`); // the stock cpu kernel needs ~10^11 operations here
  }
});

// ---- OneHot ----------------------------------------------------------------------------------------------------

test.serial('OneHot on wasm gives real float32 ones (stock writes int32 bit patterns)', async (t) => {
  const [f, g, i] = await on('wasm', () => [
    tf.oneHot(tf.tensor1d([2, 0, 5, -1], 'int32'), 4, 1, 0, 'float32'),
    tf.oneHot(tf.tensor2d([[1], [3]], [2, 1], 'int32'), 4, 0.9, 0.1 / 3, 'float32'),
    tf.oneHot(tf.tensor1d([1, 0], 'int32'), 3),
  ]);
  t.deepEqual(Array.from(f!), [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const off = Math.fround(0.1 / 3),
    on9 = Math.fround(0.9);
  t.deepEqual(Array.from(g!), [off, on9, off, off, off, off, off, on9]);
  t.deepEqual(Array.from(i!), [0, 1, 0, 1, 0, 0]);
  const one = tf.oneHot(tf.tensor1d([0], 'int32'), 2, 1, 0, 'float32');
  t.is(one.dtype, 'float32');
  t.is(one.dataSync()[0], 1);
  one.dispose();
});

// ---- Slice / SplitV / Concat (heap-to-heap copies) --------------------------------------------------------------

test.serial(
  'Slice, SplitV and Concat on wasm match cpu for float32, int32 and bool, any axis, with gradients',
  async (t) => {
    const xd = randn([3, 5, 7, 4], 16);
    const f = () => {
      const x = tf.tensor4d(xd, [3, 5, 7, 4]);
      const xi = tf.cast(tf.mul(x, 10), 'int32'),
        xb = tf.greater(x, 0);
      const outs: tf.Tensor[] = [
        tf.slice(x, [1, 0, 2, 1], [2, 5, 3, 2]),
        tf.slice(x, [0, 2, 0, 0], [3, 1, 7, 4]),
        tf.slice(x, [2, 0, 0, 0], [1, -1, -1, -1]),
        tf.slice(x, [0, 0, 0, 3], [3, 5, 7, 1]),
        tf.slice(tf.reshape(x, [420]), [17], [100]),
        tf.slice(x, [0, 0, 0, 0], [3, 5, 7, 4]),
        tf.cast(tf.slice(xi, [1, 1, 1, 1], [1, 3, 5, 2]), 'float32'),
        tf.cast(tf.slice(xb, [0, 1, 2, 0], [3, 2, 2, 4]), 'float32'),
        ...tf.split(x, [1, 3, 3], 2),
        ...tf.split(x, 2, 3),
        ...tf.split(x, 3, 0),
        tf.concat([x, tf.mul(x, 2)], 3),
        tf.concat([tf.slice(x, [0, 0, 0, 0], [3, 2, 7, 4]), x], 1),
        tf.concat([x, x, x], 0),
        tf.cast(tf.concat([xi, xi], 2), 'float32'),
        tf.cast(tf.concat([xb, xb], 3), 'float32'),
      ];
      const w = tf.randomNormal([3, 5, 7, 12], 0, 1, 'float32', 17);
      const g = tf.grad((z: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf
              .concat(
                tf.split(tf.concat([z, tf.slice(tf.concat([z, z], 3), [0, 0, 0, 2], [3, 5, 7, 4]), z], 3), 4, 3),
                3,
              )
              .slice([0, 0, 0, 0], [3, 5, 7, 12]),
            w,
          ),
        ),
      )(x);
      return [...outs, g];
    };
    const got = await on('wasm', f),
      want = await on('cpu', f);
    t.is(got.length, want.length);
    for (let i = 0; i < want.length; i++) t.deepEqual(Array.from(got[i]!), Array.from(want[i]!), `output ${i}`);
  },
);

test.serial(
  'GatherV2 on wasm matches cpu on any axis and dtype; out-of-range indices are one-line errors',
  async (t) => {
    const xd = randn([4, 6, 5], 22);
    const f = () => {
      const x = tf.tensor3d(xd, [4, 6, 5]);
      const ids = tf.tensor1d([5, 0, 5, 2], 'int32');
      return [
        tf.gather(x, ids, 1),
        tf.gather(
          x,
          tf.tensor2d(
            [
              [3, 1],
              [0, 0],
            ],
            [2, 2],
            'int32',
          ),
          0,
        ),
        tf.gather(x, tf.tensor1d([4, 0, 4], 'int32'), 2),
        tf.cast(tf.gather(tf.cast(tf.mul(x, 9), 'int32'), ids, 1), 'float32'),
        tf.cast(tf.gather(tf.greater(x, 0), ids, 1), 'float32'),
        tf.gather(
          x,
          tf.tensor2d(
            [
              [1, 5],
              [0, 0],
              [2, 3],
              [4, 4],
            ],
            [4, 2],
            'int32',
          ),
          1,
          1,
        ), // batchDims 1
        tf.gather(
          x,
          tf.tensor2d(
            [
              [1, 2, 0],
              [0, 0, 4],
              [2, 3, 3],
              [4, 4, 1],
            ],
            [4, 3],
            'int32',
          ),
          2,
          1,
        ),
      ];
    };
    const got = await on('wasm', f),
      want = await on('cpu', f);
    for (let i = 0; i < want.length; i++) t.deepEqual(Array.from(got[i]!), Array.from(want[i]!), `output ${i}`);
    await t.throwsAsync(
      on('wasm', () => tf.gather(tf.ones([3, 2]), tf.tensor1d([1, 3], 'int32'))),
      { message: 'GatherV2: the index value 3 is not in [0, 2]' },
    );
  },
);

// ---- fused layer norm ------------------------------------------------------------------------------------------

test.serial(
  'fused layer norm: value and gradients (x, gamma, beta) match the op composition, on wasm and cpu',
  async (t) => {
    const { layerNorm, hasFusedLayerNorm } = await import('../../src/kernels/layer-norm.ts');
    const xd = randn([4, 9, 24], 18),
      gd = randn([24], 19),
      bd = randn([24], 20);
    const composed = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
    };
    const run = (ln: typeof composed) => () => {
      const x = tf.tensor3d(xd, [4, 9, 24]),
        g = tf.tensor1d(gd),
        b = tf.tensor1d(bd);
      const w = tf.randomNormal([4, 9, 24], 0, 1, 'float32', 21);
      const grads = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(ln(xx, gg, bb), w)))([
        x,
        g,
        b,
      ]);
      return [ln(x, g, b), ...grads];
    };
    const want = await on('cpu', run(composed));
    for (const backend of ['wasm', 'cpu'] as const) {
      await tf.setBackend(backend);
      t.true(hasFusedLayerNorm(), backend);
      const got = await on(backend, run(layerNorm));
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) =>
        t.true(relErr(got[i]!, want[i]!) < 1e-5, `${backend} ${name}: ${relErr(got[i]!, want[i]!)}`),
      );
    }
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grad((x: tf.Tensor) => tf.sum(layerNorm(x, tf.ones([24]), tf.zeros([24]))))(tf.ones([2, 24]));
    });
    t.is(tf.memory().numTensors, before, 'no leaked tensors');
    t.throws(() => layerNorm(tf.ones([2, 24]), tf.ones([23]), tf.zeros([23])), {
      message: /gamma shape \[23\] does not match the last axis 24/,
    });
  },
);

if (matMulPaths.includes('native BLAS')) {
  test.serial(
    'fused layer norm on wasm: the native kernel agrees with the JavaScript kernel to the last bit or so',
    async (t) => {
      const { layerNorm } = await import('../../src/kernels/layer-norm.ts');
      const xd = randn([6, 50, 96], 22),
        gd = randn([96], 23),
        bd = randn([96], 24);
      const run = () => {
        const x = tf.tensor3d(xd, [6, 50, 96]),
          g = tf.tensor1d(gd),
          b = tf.tensor1d(bd);
        const w = tf.randomNormal([6, 50, 96], 0, 1, 'float32', 25);
        const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(xx, gg, bb), w));
        return [layerNorm(x, g, b), ...tf.grads(f)([x, g, b])];
      };
      const native = await onPath(t, 'native BLAS', () => on('wasm', run));
      const js = await onPath(t, 'XNNPACK', () => on('wasm', run));
      // the same double arithmetic; sums taken in another order (partial sums, blocks of rows) can move the last bit
      let differ = 0;
      native[0]!.forEach((v, i) => (differ += v === js[0]![i] ? 0 : 1));
      t.true(differ <= native[0]!.length / 100, `y: ${differ} of ${native[0]!.length} floats differ`);
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) =>
        t.true(relErr(native[i]!, js[i]!) < 1e-6, `${name}: ${relErr(native[i]!, js[i]!)}`),
      );
    },
  );
}

test.serial(
  'QuickGELU kernel: value and gradient match the op composition on cpu (native and JavaScript)',
  async (t) => {
    const { fusedQuickGelu, hasFusedQuickGelu } = await import('../../src/kernels/quick-gelu.ts');
    const { quickGelu } = await import('../../src/nn/activations.ts');
    const xd = randn([7, 33, 40], 26).map((v) => v * 4); // well into both tails of the sigmoid
    const run = (gelu: (x: tf.Tensor) => tf.Tensor) => () => {
      const x = tf.tensor3d(xd, [7, 33, 40]);
      const w = tf.randomNormal([7, 33, 40], 0, 1, 'float32', 27);
      return [gelu(x), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(gelu(xx), w)))(x)];
    };
    const composed = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    const want = await on('cpu', run(composed));
    for (const path of matMulPaths) {
      const got = await onPath(t, path, () => on('wasm', run(fusedQuickGelu)));
      t.true(relErr(got[0]!, want[0]!) < 1e-6, `${path} y: ${relErr(got[0]!, want[0]!)}`);
      t.true(relErr(got[1]!, want[1]!) < 1e-5, `${path} dx: ${relErr(got[1]!, want[1]!)}`);
      await tf.setBackend('wasm');
      t.is(
        await onPath(t, path, () => hasFusedQuickGelu()),
        path === 'native BLAS',
        'quickGelu() fuses only on the native path',
      );
    }
    // and the layer's entry point gives the same on every path
    for (const path of matMulPaths) {
      const got = await onPath(t, path, () => on('wasm', run(quickGelu)));
      t.true(relErr(got[0]!, want[0]!) < 1e-6, `${path} quickGelu(): ${relErr(got[0]!, want[0]!)}`);
    }
  },
);

test.serial(
  'self-attention (packed q|k|v, with and without a causal mask): value and gradients match cpu',
  async (t) => {
    const { multiHeadAttention, causalMask } = await import('../../src/nn/attention.ts');
    const { hasFusedAttention } = await import('../../src/kernels/attention.ts');
    // many small (batch, head) items spread over threads, and one large item split by the BLAS's own threads
    for (const [b, tt, w, heads] of [
      [3, 13, 24, 4],
      [1, 70, 64, 1],
    ]) {
      const xd = randn([b, tt, w], 28),
        wi = randn([w, 3 * w], 29).map((v) => v * 0.3),
        bi = randn([3 * w], 30),
        wo = randn([w, w], 31).map((v) => v * 0.3),
        bo = randn([w], 32);
      for (const masked of [false, true]) {
        const run = () => {
          const x = tf.tensor3d(xd, [b, tt, w]);
          const p = {
            inProjWeight: tf.tensor2d(wi, [w, 3 * w]),
            inProjBias: tf.tensor1d(bi),
            outProjWeight: tf.tensor2d(wo, [w, w]),
            outProjBias: tf.tensor1d(bo),
          };
          const mask = masked ? causalMask(tt) : undefined;
          const r = tf.randomNormal([b, tt, w], 0, 1, 'float32', 33);
          const f = (xx: tf.Tensor, a: tf.Tensor, c: tf.Tensor) =>
            tf.sum(
              tf.mul(multiHeadAttention(xx as tf.Tensor3D, { ...p, inProjWeight: a, inProjBias: c }, heads, mask), r),
            );
          return [multiHeadAttention(x, p, heads, mask), ...tf.grads(f)([x, p.inProjWeight, p.inProjBias])];
        };
        const want = await on('cpu', run);
        for (const path of matMulPaths) {
          const got = await onPath(t, path, () => on('wasm', run));
          ['y', 'dx', 'dW_in', 'db_in'].forEach((name, i) =>
            t.true(relErr(got[i]!, want[i]!) < 1e-5, `${path} mask=${masked} ${name}: ${relErr(got[i]!, want[i]!)}`),
          );
          await tf.setBackend('wasm');
          const fused = await onPath(t, path, () =>
            tf.tidy(() => hasFusedAttention(tf.zeros([b, tt, 3 * w]), masked ? tf.zeros([tt, tt]) : undefined)),
          );
          t.is(fused, path === 'native BLAS', `${path}: fused kernel used only on the native path`);
        }
      }
    }
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.ones([2, 5, 8]) as tf.Tensor3D;
      const p = {
        inProjWeight: tf.ones([8, 24]),
        inProjBias: tf.zeros([24]),
        outProjWeight: tf.ones([8, 8]),
        outProjBias: tf.zeros([8]),
      };
      tf.grad((xx: tf.Tensor) => tf.sum(multiHeadAttention(xx as tf.Tensor3D, p, 2)))(x);
    });
    t.is(tf.memory().numTensors, before, 'no leaked tensors');
  },
);

test.serial(
  "Sum over leading axes: the native column sum gives the stock kernel's floats; other sums unchanged",
  async (t) => {
    const xd = randn([3, 700, 37], 34).map((v) => v * 100);
    const cases: Array<[number[], number | number[], boolean]> = [
      [[3, 700, 37], [0, 1], false], // the bias gradient of [..., N]
      [[2100, 37], 0, true],
      [[3, 700, 37], [-3, -2], true],
      [[3, 700, 37], 0, false],
      [[3, 700, 37], [1, 2], false], // innermost axes: the stock kernel
      [[3, 700, 37], 1, false], // a middle axis: the stock kernel
    ];
    for (const [shape, axis, keepDims] of cases) {
      const label = `[${shape}] axis ${axis} keepDims ${keepDims}`;
      const run = () => tf.sum(tf.tensor(xd, shape), axis, keepDims);
      const want = tf.tidy(() => run().shape);
      const results: Float32Array[] = [];
      for (const path of matMulPaths) {
        const shapeHere = await onPath(t, path, () => tf.tidy(() => run().shape));
        t.deepEqual(shapeHere, want, `${path} ${label}: shape`);
        results.push((await onPath(t, path, () => on('wasm', run)))[0]!);
      }
      for (let i = 1; i < results.length; i++)
        t.deepEqual(Array.from(results[i]!), Array.from(results[0]!), `${label}: the same floats on every path`);
      const ref = await on('cpu', run);
      t.true(relErr(results[0]!, ref[0]!) < 1e-5, `${label} vs cpu: ${relErr(results[0]!, ref[0]!)}`);
    }
    const ints = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    t.deepEqual(Array.from(tf.sum(ints, 0).dataSync()), [4, 6]);
    ints.dispose();
  },
);

test.serial('Identity and same-dtype Cast share data on wasm; disposing either side keeps the other intact', (t) => {
  const before = tf.memory().numDataBuffers;
  const x = tf.tensor1d([1, 2, 3]);
  const c = tf.clone(x),
    k = tf.cast(x, 'float32'),
    i = tf.cast(x, 'int32');
  t.is(tf.memory().numDataBuffers - before, 2, 'only x and the int32 cast own a buffer');
  x.dispose();
  t.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
  c.dispose();
  t.deepEqual(Array.from(k.dataSync()), [1, 2, 3]);
  t.is(i.dtype, 'int32');
  t.deepEqual(Array.from(i.dataSync()), [1, 2, 3]);
  tf.dispose([k, i]);
  t.is(tf.memory().numDataBuffers, before);
});
