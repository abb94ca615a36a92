// The project's own WGSL kernels on webgpu against the cpu backend: the fused layer norm, forward and gradients
// (through the registered gradient), QuickGELU, and the fused AdamW update against the host implementation.
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.ts';
import { layerNorm } from '../../src/nn/layer-norm.ts';
import { quickGelu } from '../../src/nn/activations.ts';
import { QUICK_GELU } from '../../src/kernels/quick-gelu.ts';
import { hasFusedLayerNorm } from '../../src/kernels/layer-norm.ts';
import { AdamW, seedAdamW } from '../../src/train/adamw.ts';
import { gpuTestFor, webgpuUnavailable } from '../helpers/webgpu.ts';

const gpuTest = gpuTestFor(await webgpuUnavailable());

function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0,
    s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / Math.max(s, 1e-12);
}

async function layerNormAndGrads(shape: number[], seed: number) {
  const d = shape[shape.length - 1]!;
  const x = tf.randomNormal(shape, 0.3, 2, 'float32', seed);
  const gamma = tf.randomNormal([d], 1, 0.2, 'float32', seed + 1);
  const beta = tf.randomNormal([d], 0, 0.2, 'float32', seed + 2);
  const r = tf.randomNormal(shape, 0, 1, 'float32', seed + 3);
  const f = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(xx, g, bb), r)) as tf.Scalar;
  const y = layerNorm(x, gamma, beta);
  const grads = tf.grads(f)([x, gamma, beta]);
  const out = [await y.data(), ...(await Promise.all(grads.map((g) => g.data())))];
  tf.dispose([x, gamma, beta, r, y, ...grads]);
  return out;
}

gpuTest('fused layer norm: output and gradients (x, gamma, beta) equal the cpu backend', async (t) => {
  for (const shape of [
    [3, 50, 64],
    [7, 768],
    [300, 5],
    [2, 1030],
  ]) {
    await initBackend({ backend: 'webgpu', quiet: true });
    t.true(hasFusedLayerNorm(), 'the webgpu backend has the fused kernel');
    const gpu = await layerNormAndGrads(shape, 3);
    await initBackend({ backend: 'cpu', quiet: true });
    const cpu = await layerNormAndGrads(shape, 3);
    ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => {
      const e = worst(gpu[i]!, cpu[i]!);
      t.true(e < 2e-5, `[${shape}] ${name}: relative error ${e.toExponential(2)}`);
    });
  }
});

gpuTest(
  'fused AdamW on the device equals the host AdamW (gate open), and leaves everything alone (gate closed)',
  async (t) => {
    const run = async (backend: 'webgpu' | 'cpu') => {
      await initBackend({ backend, quiet: true });
      const p = tf.variable(tf.randomNormal([1000], 0, 1, 'float32', 5));
      const q = tf.variable(tf.randomNormal([10], 0, 1, 'float32', 6));
      const opt = new AdamW(
        [
          { name: 'p', variable: p, decay: true },
          { name: 'q', variable: q, decay: false },
        ],
        seedAdamW(0.1),
      );
      t.is(opt.placement, backend === 'webgpu' ? 'device' : 'host');
      for (let s = 0; s < 4; s++) {
        const g = {
          p: tf.randomNormal([1000], 0, 1, 'float32', 10 + s),
          q: tf.randomNormal([10], 0, 1, 'float32', 20 + s),
        };
        const gate = tf.scalar(s === 2 ? 0 : 1);
        opt.apply(g, 1e-2 * (s + 1), gate);
        opt.settle(s !== 2);
        tf.dispose([g.p, g.q, gate]);
      }
      const st = await opt.state();
      const out = { p: await p.data(), q: await q.data(), m: st.m.p!, v: st.v.q!, step: opt.step };
      opt.dispose();
      tf.dispose([p, q]);
      return out;
    };
    const gpu = await run('webgpu');
    const cpu = await run('cpu');
    t.is(gpu.step, 3);
    t.is(cpu.step, 3);
    for (const k of ['p', 'q', 'm', 'v'] as const) {
      const e = worst(gpu[k], cpu[k]);
      t.true(e < 1e-6, `${k}: relative error ${e.toExponential(2)}`);
    }
  },
);

gpuTest('fused QuickGELU: output and gradient equal the op composition on the cpu backend', async (t) => {
  const run = async (backend: 'webgpu' | 'cpu') => {
    await initBackend({ backend, quiet: true });
    const x = tf.randomNormal([3, 17, 130], 0, 3, 'float32', 7);
    const r = tf.randomNormal([3, 17, 130], 0, 1, 'float32', 8);
    const y = quickGelu(x);
    const [g] = tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(quickGelu(xx), r)) as tf.Scalar)([x]);
    const out = [await y.data(), await g!.data()];
    tf.dispose([x, r, y, g!]);
    return out;
  };
  await initBackend({ backend: 'webgpu', quiet: true });
  t.truthy(tf.getKernel(QUICK_GELU, 'webgpu'), 'the webgpu backend has the fused kernel');
  const gpu = await run('webgpu');
  const cpu = await run('cpu');
  t.true(worst(gpu[0]!, cpu[0]!) < 1e-6, `y: ${worst(gpu[0]!, cpu[0]!)}`);
  t.true(worst(gpu[1]!, cpu[1]!) < 1e-5, `dx: ${worst(gpu[1]!, cpu[1]!)}`);
});
