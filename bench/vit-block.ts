// Profile of one ViT-like pre-LN transformer block training step (B=32, T=50, W=256, 4 heads, MLP 1024, QuickGELU;
// loss = mean(out²), gradients for all 12 parameters), the case the wasm kernels were tuned on. Prints the
// forward and forward+backward time and the per-kernel time table from tf.profile, with the project's kernels
// (default) or the stock ones (--stock). Usage: node bench/vit-block.ts [--stock] [--reps 5] [--backend wasm|cpu]
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import { projectKernels, stockKernel } from '../src/kernels/register.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : def;
};
const reps = Number(opt('--reps', '5'));
const B = Number(opt('--batch', '32')),
  T = 50,
  W = 256,
  H = 4,
  D = W / H,
  F = 4 * W;

const info = await initBackend({ backend: opt('--backend', 'wasm') as 'wasm' | 'cpu' });
if (flag('--stock')) {
  for (const k of projectKernels()) {
    tf.unregisterKernel(k.kernelName, k.backendName);
    const s = stockKernel(k.kernelName, k.backendName);
    if (s) tf.registerKernel(s);
  }
}

const rnd = (shape: number[], scale: number, seed: number) =>
  tf.variable(tf.randomNormal(shape, 0, scale, 'float32', seed));
const p = {
  ln1g: tf.variable(tf.ones([W])),
  ln1b: tf.variable(tf.zeros([W])),
  wqkv: rnd([W, 3 * W], W ** -0.5, 1),
  bqkv: tf.variable(tf.zeros([3 * W])),
  wo: rnd([W, W], W ** -0.5, 2),
  bo: tf.variable(tf.zeros([W])),
  ln2g: tf.variable(tf.ones([W])),
  ln2b: tf.variable(tf.zeros([W])),
  w1: rnd([W, F], W ** -0.5, 3),
  b1: tf.variable(tf.zeros([F])),
  w2: rnd([F, W], F ** -0.5, 4),
  b2: tf.variable(tf.zeros([W])),
};
const vars = Object.values(p);
const x = tf.randomNormal([B, T, W], 0, 1, 'float32', 5);

function layerNorm(h: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(h, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}
function linear(h: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const shape = h.shape;
  const y = tf.add(tf.matMul(tf.reshape(h, [-1, shape[shape.length - 1]!]), w), b);
  return tf.reshape(y, [...shape.slice(0, -1), w.shape[1]!]);
}
function block(h0: tf.Tensor): tf.Tensor {
  const h = layerNorm(h0, p.ln1g, p.ln1b);
  const qkv = linear(h, p.wqkv, p.bqkv); // [B,T,3W]
  const [q, k, v] = tf.split(qkv, 3, -1).map((t) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]));
  const att = tf.softmax(tf.mul(tf.matMul(q!, k!, false, true), D ** -0.5)); // [B,H,T,T]
  const o = tf.reshape(tf.transpose(tf.matMul(att, v!), [0, 2, 1, 3]), [B, T, W]);
  const h1 = tf.add(h0, linear(o, p.wo, p.bo));
  const m = linear(layerNorm(h1, p.ln2g, p.ln2b), p.w1, p.b1);
  const g = tf.mul(m, tf.sigmoid(tf.mul(m, 1.702))); // QuickGELU
  return tf.add(h1, linear(g, p.w2, p.b2));
}
const loss = () => tf.mean(tf.square(block(x))) as tf.Scalar;

function median(f: () => void): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
}
const fwd = median(() => {
  const l = tf.tidy(loss);
  l.dataSync();
  l.dispose();
});
const step = median(() => {
  const { value, grads } = tf.variableGrads(loss, vars);
  tf.dispose(
    [value, ...Object.values(grads)].map((t) => {
      t.dataSync();
      return t;
    }),
  );
});
console.log(
  `${info.name} ${info.threads} thread(s)${flag('--stock') ? ' STOCK kernels' : ''}: forward ${fwd.toFixed(1)} ms, ` +
    `forward+backward ${step.toFixed(1)} ms (median of ${reps}); tensors alive ${tf.memory().numTensors}`,
);

if (!flag('--no-profile')) {
  const prof = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(loss, vars);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const byKernel = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = byKernel.get(key) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n++;
    byKernel.set(key, e);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, r) => s + r[1].ms, 0);
  console.log(`profile: ${prof.kernels.length} kernel calls, ${total.toFixed(1)} ms kernel time`);
  for (const [key, e] of rows.slice(0, Number(opt('--top', '25')))) {
    console.log(`${e.ms.toFixed(2).padStart(8)} ms ${String(e.n).padStart(3)}x  ${key.slice(0, 110)}`);
  }
}
shutdownBackend();
