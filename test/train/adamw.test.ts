import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { readFileSync, existsSync } from 'node:fs';
import { AdamW, seedAdamW } from '../../src/train/adamw.ts';
import { setNativeBlas } from '../../src/kernels/native-blas.ts';

test.before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

test.serial('one hand-computed step: decay, bias correction, eps (PyTorch AdamW semantics)', async (t) => {
  // p = 1, g = 0.5, lr = 0.1, wd = 0.1, betas (0.9, 0.98), eps 1e-8:
  // p <- 1 * (1 - 0.01) = 0.99; m = 0.05; v = 0.02 * 0.25 = 0.005; bias corrections 0.1 and 0.02
  // denom = sqrt(0.005)/sqrt(0.02) + 1e-8 = 0.5 + 1e-8; p <- 0.99 - (0.1/0.1) * 0.05 / (0.5 + 1e-8) = 0.89
  const decayed = tf.variable(tf.tensor1d([1]));
  const plain = tf.variable(tf.tensor1d([1]));
  const opt = new AdamW(
    [
      { name: 'w', variable: decayed, decay: true },
      { name: 'b', variable: plain, decay: false },
    ],
    seedAdamW(0.1),
  );
  const g = tf.tensor1d([0.5]);
  opt.apply({ w: g, b: g }, 0.1);
  t.true(Math.abs(decayed.dataSync()[0] - 0.89) < 1e-6, String(decayed.dataSync()[0]));
  t.true(Math.abs(plain.dataSync()[0] - 0.9) < 1e-6, String(plain.dataSync()[0]));
  t.is(opt.step, 1);
  const st = await opt.state();
  t.true(Math.abs(st.m.w[0] - 0.05) < 1e-8);
  t.true(Math.abs(st.v.w[0] - 0.005) < 1e-9);
  opt.dispose();
  decayed.dispose();
  plain.dispose();
  g.dispose();
});

// An independent float64 transcription of torch.optim.AdamW (1.13, _single_tensor_adamw).
function referenceAdamW(p0: number[], grads: number[][], lrs: number[], wd: number, b1 = 0.9, b2 = 0.98, eps = 1e-8) {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const step = k + 1;
    const lr = lrs[k];
    const bc1 = 1 - b1 ** step;
    const bc2 = 1 - b2 ** step;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + eps;
      p[i] -= ((lr / bc1) * m[i]) / denom;
    }
  });
  return p;
}

test.serial('five steps with varying lr and gradients match a float64 transcription of torch AdamW', (t) => {
  const p0 = [0.3, -1.2, 2.5, 0.0, -0.01, 4];
  const grads = [
    [0.1, -0.2, 0.3, 1e-4, -5, 0],
    [0.2, 0.1, -0.3, 2e-4, 3, 0.5],
    [-0.1, 0.05, 0.3, 0, 1, -0.5],
    [1, -1, 0.01, -1e-3, 0.2, 0.1],
    [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
  ];
  const lrs = [1e-4, 3e-4, 1e-3, 7e-4, 2e-4];
  const want = referenceAdamW(p0, grads, lrs, 0.5);
  const variable = tf.variable(tf.tensor1d(p0));
  const opt = new AdamW([{ name: 'p', variable, decay: true }], seedAdamW(0.5));
  grads.forEach((g, k) => {
    const gt = tf.tensor1d(g);
    opt.apply({ p: gt }, lrs[k]);
    gt.dispose();
  });
  const got = Array.from(variable.dataSync());
  got.forEach((x, i) =>
    t.true(Math.abs(x - want[i]) < 2e-6 * Math.max(1, Math.abs(want[i])), `${i}: ${x} vs ${want[i]}`),
  );
  opt.dispose();
  variable.dispose();
});

test.serial('state round-trips and a missing gradient leaves a parameter and its moments untouched', async (t) => {
  const a = tf.variable(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
  );
  const b = tf.variable(tf.tensor1d([5]));
  const opt = new AdamW(
    [
      { name: 'a', variable: a, decay: true },
      { name: 'b', variable: b, decay: false },
    ],
    seedAdamW(0.1),
  );
  const ga = tf.onesLike(a);
  opt.apply({ a: ga }, 1e-2);
  t.deepEqual(Array.from(b.dataSync()), [5]);
  const saved = await opt.state();
  t.deepEqual(Array.from(saved.m.b), [0]);
  const before = tf.memory().numTensors;
  opt.apply({ a: ga }, 1e-2);
  t.is(tf.memory().numTensors, before, 'apply leaks no tensors');
  const afterTwo = Array.from(a.dataSync());
  // restore the state after one step into a fresh optimiser on a copy of the weights after one step
  const a2 = tf.variable(tf.tensor2d(Array.from(a.dataSync()), [2, 2]));
  a.assign(
    tf.tensor2d([
      [1, 2],
      [3, 4],
    ]),
  );
  const opt1 = new AdamW(
    [
      { name: 'a', variable: a, decay: true },
      { name: 'b', variable: b, decay: false },
    ],
    seedAdamW(0.1),
  );
  opt1.apply({ a: ga }, 1e-2);
  const fresh = new AdamW(
    [
      { name: 'a', variable: a, decay: true },
      { name: 'b', variable: b, decay: false },
    ],
    seedAdamW(0.1),
  );
  fresh.loadState(await opt1.state());
  t.is(fresh.step, 1);
  fresh.apply({ a: ga }, 1e-2);
  t.deepEqual(Array.from(a.dataSync()), afterTwo);
  t.throws(() => fresh.loadState({ step: 1, m: {}, v: {} }), { message: /no moments for parameter a/ });
  for (const o of [opt, opt1, fresh]) o.dispose();
  for (const x of [a, b, a2, ga]) x.dispose();
});

const fixture = new URL('../../fixtures/parity/train/adamw.json', import.meta.url);
test.serial('matches PyTorch 1.13 AdamW on the committed fixture (reference/adamw_reference.py)', (t) => {
  if (!existsSync(fixture)) {
    t.fail('fixtures/parity/train/adamw.json missing: run /usr/bin/python3 reference/adamw_reference.py');
    return;
  }
  const fx = JSON.parse(readFileSync(fixture, 'utf8')) as {
    betas: [number, number];
    eps: number;
    weight_decay: number;
    lrs: number[];
    params: Array<{
      name: string;
      decay: boolean;
      shape: number[];
      init: number[];
      grads: number[][];
      final: number[];
    }>;
  };
  const vars = fx.params.map((p) => ({
    name: p.name,
    variable: tf.variable(tf.tensor(p.init, p.shape)),
    decay: p.decay,
  }));
  const opt = new AdamW(vars, { beta1: fx.betas[0], beta2: fx.betas[1], eps: fx.eps, weightDecay: fx.weight_decay });
  fx.lrs.forEach((lr, k) => {
    const grads = Object.fromEntries(fx.params.map((p) => [p.name, tf.tensor(p.grads[k], p.shape)]));
    opt.apply(grads, lr);
    Object.values(grads).forEach((g) => g.dispose());
  });
  for (const [i, p] of fx.params.entries()) {
    const got = vars[i].variable.dataSync();
    let worst = 0;
    p.final.forEach((x, j) => {
      worst = Math.max(worst, Math.abs(got[j] - x));
    });
    t.true(worst < 1e-6, `${p.name}: max abs diff ${worst}`);
  }
  opt.dispose();
  vars.forEach((v) => v.variable.dispose());
});

test.serial(
  'device placement (moments as tensors, tf ops off webgpu) equals the host loop, and a closed gate changes nothing',
  async (t) => {
    const run = async (placement: 'host' | 'device') => {
      const p = tf.variable(tf.tensor1d([0.3, -1.2, 2.5, 0.0, -0.01, 4]));
      const opt = new AdamW([{ name: 'p', variable: p, decay: true }], seedAdamW(0.5), placement);
      t.is(opt.placement, placement);
      for (let k = 0; k < 4; k++) {
        const g = tf.tensor1d([0.1 * k, -0.2, 0.3, 1e-4, -5, k]);
        const gate = tf.scalar(k === 2 ? 0 : 1);
        opt.apply({ p: g }, 1e-3 * (k + 1), gate);
        opt.settle(k !== 2);
        tf.dispose([g, gate]);
      }
      const st = await opt.state();
      const out = { p: Array.from(await p.data()), m: Array.from(st.m.p!), v: Array.from(st.v.p!), step: opt.step };
      opt.dispose();
      p.dispose();
      return out;
    };
    const host = await run('host');
    const device = await run('device');
    t.is(host.step, 3);
    t.is(device.step, 3);
    for (const k of ['p', 'm', 'v'] as const)
      host[k].forEach((x, i) => t.true(Math.abs(x - device[k][i]!) <= 1e-6 * Math.max(1, Math.abs(x)), `${k}[${i}]`));
  },
);

test.serial('the native update (BLAS addon) is bit-identical to the JavaScript loop, step after step', async (t) => {
  if (!setNativeBlas(true)) return t.pass('native BLAS addon not built: the JavaScript loop is the only path');
  try {
    const n = 100_003; // not a multiple of any chunk, so every thread's range and the tail are exercised
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const p0 = Float32Array.from({ length: n }, () => rand());
    const grads = [0, 1, 2, 3].map((k) => Float32Array.from({ length: n }, () => rand() * 10 ** (k - 2)));
    const run = async (native: boolean) => {
      setNativeBlas(native);
      const w = tf.variable(tf.tensor1d(p0));
      const b = tf.variable(tf.tensor1d(p0.subarray(0, 1000)));
      const opt = new AdamW(
        [
          { name: 'w', variable: w, decay: true },
          { name: 'b', variable: b, decay: false },
        ],
        seedAdamW(0.1),
      );
      for (const [k, g] of grads.entries())
        tf.tidy(() => opt.apply({ w: tf.tensor1d(g), b: tf.tensor1d(g.subarray(0, 1000)) }, 1e-3 * (k + 1)));
      const out = { w: await w.data(), b: await b.data(), ...(await opt.state()) };
      opt.dispose();
      w.dispose();
      b.dispose();
      return out;
    };
    const js = await run(false);
    const native = await run(true);
    const bits = (a: ArrayLike<number>) => new Uint32Array(Float32Array.from(a).buffer);
    t.deepEqual(bits(native.w), bits(js.w));
    t.deepEqual(bits(native.b), bits(js.b));
    t.deepEqual(bits(native.m.w!), bits(js.m.w!));
    t.deepEqual(bits(native.v.w!), bits(js.v.w!));
    t.notDeepEqual(bits(js.w), bits(p0), 'the parameters moved');
  } finally {
    setNativeBlas(false);
  }
});
