// BatchMatMul on wasm: the project's kernel (src/kernels/batch-mat-mul.ts) on its native BLAS path (when the addon is
// built) and its XNNPACK path, vs the stock tfjs-backend-wasm kernel, for the shapes a transformer training step
// produces (gradients are the transposed cases). Checks each result against the cpu backend.
// Usage: node bench/matmul.ts [--reps 5]
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import { projectKernels, stockKernel } from '../src/kernels/register.ts';
import { nativeBlasStatus, setNativeBlas } from '../src/kernels/native-blas.ts';

interface Case {
  name: string;
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
}
const cases: Case[] = [
  { name: '1024² x 1024²', a: [1024, 1024], b: [1024, 1024], ta: false, tb: false },
  { name: 'dW: [1600,1024]ᵀ x [1600,256]', a: [1600, 1024], b: [1600, 256], ta: true, tb: false },
  { name: 'dX: [1600,1024] x [256,1024]ᵀ', a: [1600, 1024], b: [256, 1024], ta: false, tb: true },
  { name: 'tokens: [32,50,256] x [256,768]', a: [32, 50, 256], b: [256, 768], ta: false, tb: false },
  { name: 'scores: [32,4,50,64] x [32,4,50,64]ᵀ', a: [32, 4, 50, 64], b: [32, 4, 50, 64], ta: false, tb: true },
  { name: 'attn: [32,4,50,50] x [32,4,50,64]', a: [32, 4, 50, 50], b: [32, 4, 50, 64], ta: false, tb: false },
  { name: 'dV: [32,4,50,50]ᵀ x [32,4,50,64]', a: [32, 4, 50, 50], b: [32, 4, 50, 64], ta: true, tb: false },
  { name: 'broadcast: [8,1,20,30] x [3,30,40]', a: [8, 1, 20, 30], b: [3, 30, 40], ta: false, tb: false },
];

const repsArg = process.argv.indexOf('--reps');
const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 5;

function time(f: () => tf.Tensor): number {
  f().dispose(); // warm-up
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const y = f();
    y.dataSync();
    ts.push(performance.now() - t0);
    y.dispose();
  }
  ts.sort((x, y) => x - y);
  return ts[Math.floor(ts.length / 2)]!;
}

const info = await initBackend({ backend: 'wasm' });
const ours = projectKernels().filter((k) => k.backendName === 'wasm' && k.kernelName === 'BatchMatMul')[0]!;
const stock = stockKernel('BatchMatMul', 'wasm')!;

const native = nativeBlasStatus().active;
console.log(`backend ${info.name}, ${info.threads} thread(s), ${nativeBlasStatus().reason}; median of ${reps}`);
console.log(
  'case'.padEnd(42) +
    'native ms'.padStart(10) +
    'XNNPACK ms'.padStart(11) +
    'stock ms'.padStart(10) +
    'GFLOP/s'.padStart(9) +
    '  max|diff| vs cpu',
);
for (const c of cases) {
  const a = tf.randomNormal(c.a, 0, 1, 'float32', 1);
  const b = tf.randomNormal(c.b, 0, 1, 'float32', 2);
  const f = () => tf.matMul(a, b, c.ta, c.tb);
  const nativeMs = native ? time(f) : undefined;
  setNativeBlas(false);
  const xnnMs = time(f);
  setNativeBlas(native);
  const oursMs = nativeMs ?? xnnMs;
  const y = f();
  const got = y.dataSync().slice();
  const shape = y.shape;
  y.dispose();
  // stock wasm kernel
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(stock);
  const stockMs = time(f);
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(ours);
  // cpu reference
  const aData = a.dataSync(),
    bData = b.dataSync();
  await tf.setBackend('cpu');
  // explicit broadcast: the cpu kernel's own batch broadcasting is only right when one batch is 1 or both are equal
  const ref = tf.tidy(() => {
    const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(c.a.slice(0, -2), c.b.slice(0, -2));
    const ta = tf.broadcastTo(tf.tensor(aData, c.a), [...outBatch, ...c.a.slice(-2)]);
    const tb = tf.broadcastTo(tf.tensor(bData, c.b), [...outBatch, ...c.b.slice(-2)]);
    return tf.matMul(ta, tb, c.ta, c.tb).dataSync();
  });
  await tf.setBackend('wasm');
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
  const m = shape[shape.length - 2]!,
    n = shape[shape.length - 1]!,
    k = c.ta ? c.a[c.a.length - 2]! : c.a[c.a.length - 1]!;
  const flops = 2 * (got.length / (m * n)) * m * n * k;
  console.log(
    c.name.padEnd(42) +
      (nativeMs === undefined ? '-' : nativeMs.toFixed(1)).padStart(10) +
      xnnMs.toFixed(1).padStart(11) +
      stockMs.toFixed(1).padStart(10) +
      (flops / oursMs / 1e6).toFixed(1).padStart(9) +
      '  ' +
      maxDiff.toExponential(1),
  );
  a.dispose();
  b.dispose();
}
shutdownBackend();
