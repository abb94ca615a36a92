// Training on webgpu (the software adapter in CI): the same steps as wasm give the same losses, memory stays flat over
// many steps, and a process that trained on the GPU exits by itself.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { batchTensors } from '../../src/train/contracts.ts';
import { asWebgpu } from '../../src/webgpu/dispatch.ts';
import { uploadToDevice } from '../../src/webgpu/upload.ts';
import { syntheticTrainBatch, tinyTraining } from '../helpers/tiny-training.ts';
import { gpuTestFor, webgpuUnavailable } from '../helpers/webgpu.ts';

// The wasm reference runs the stock op compositions (XNNPACK products): the native BLAS path computes softmax and
// QuickGELU with its own exp, and Adam turns that last-bit noise on near-zero gradients into lr-sized weight changes,
// which would hide what this test looks for (webgpu's kernels against tfjs's own arithmetic).
process.env.CLIP_BENCH_BLAS = 'off';

const reason = await webgpuUnavailable();
const gpuTest = gpuTestFor(reason);
test.after.always(() => shutdownBackend());

const STEPS = 5;

async function losses(name: string, micro: number): Promise<{ losses: number[]; weights: Float32Array }> {
  const run = tinyTraining(name, 21, micro);
  const out: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const batch = syntheticTrainBatch(run, 8, 100 + s);
    const r = await run.trainer.trainStep(batch);
    if (r.verdict.action !== 'ok') throw new Error(`${name} step ${r.step}: ${JSON.stringify(r.verdict)}`);
    out.push(r.loss);
    tf.dispose(batchTensors(batch));
  }
  const weights = (await run.model.store.get('visual.proj').data()) as Float32Array;
  run.dispose();
  return { losses: out, weights: weights.slice() };
}

gpuTest('a short training run on webgpu follows the wasm run (CLIP; DeFILIP with the gradient cache)', async (t) => {
  for (const [name, micro] of [
    ['clip', 0],
    ['defilip', 4],
  ] as const) {
    await initBackend({ backend: 'wasm', threads: 1, quiet: true });
    const wasm = await losses(name, micro);
    await initBackend({ backend: 'webgpu', quiet: true });
    const gpu = await losses(name, micro);
    t.log(`${name}: wasm ${wasm.losses.map((x) => x.toFixed(5)).join(' ')}`);
    t.log(`${name}: webgpu ${gpu.losses.map((x) => x.toFixed(5)).join(' ')}`);
    wasm.losses.forEach((l, i) =>
      t.true(
        Math.abs(l - gpu.losses[i]!) <= 2e-4 * Math.max(1, Math.abs(l)),
        `${name} step ${i + 1}: ${l} vs ${gpu.losses[i]}`,
      ),
    );
    let worst = 0,
      scale = 0;
    wasm.weights.forEach((w, i) => {
      worst = Math.max(worst, Math.abs(w - gpu.weights[i]!));
      scale = Math.max(scale, Math.abs(w));
    });
    t.true(worst <= 1e-4 * scale, `${name}: visual.proj after ${STEPS} steps differs by ${worst} (scale ${scale})`);
  }
});

gpuTest('tensor count and GPU buffers stay flat over many steps (gradient cache)', async (t) => {
  await initBackend({ backend: 'webgpu', quiet: true });
  const run = tinyTraining('clip', 4, 4);
  const batch = syntheticTrainBatch(run, 8, 9);
  const buffers = () => {
    const m = asWebgpu(tf.backend()).bufferManager;
    return { allocated: m.numBytesAllocated, used: m.getNumUsedBuffers(), free: m.getNumFreeBuffers() };
  };
  for (let i = 0; i < 4; i++) await run.trainer.trainStep(batch);
  const tensors = tf.memory().numTensors;
  const before = buffers();
  for (let i = 0; i < 15; i++) {
    const r = await run.trainer.trainStep(batch);
    t.is(tf.memory().numTensors, tensors, `tensor count at step ${r.step}`);
  }
  const after = buffers();
  t.deepEqual(after, before, 'GPU buffers allocated, in use and pooled');
  t.log(
    `tensors ${tensors}; GPU ${(after.allocated / 2 ** 20).toFixed(1)} MiB in ${after.used} + ${after.free} buffers`,
  );
  tf.dispose(batchTensors(batch));
  run.dispose();
});

gpuTest(
  'the next batch uploaded during a step: images on the GPU before their step, token ids kept on the host',
  async (t) => {
    await initBackend({ backend: 'webgpu', quiet: true });
    const run = tinyTraining('clip', 4, 0);
    const current = syntheticTrainBatch(run, 8, 9);
    const next = syntheticTrainBatch(run, 8, 10);
    const images = await next.images[0]!.data();
    const state = (x: tf.Tensor) => asWebgpu(tf.backend()).tensorMap.get(x.dataId)!;
    t.truthy(state(next.images[0]!).values, 'a new tensor waits on the host');
    let uploaded = 0;
    const r = await run.trainer.trainStep(current, () => {
      uploaded = uploadToDevice(batchTensors(next));
    });
    t.is(r.step, 1);
    t.is(uploaded, next.images.length, 'only the float32 images');
    t.truthy(state(next.images[0]!).resource, 'the images have a GPU buffer');
    t.is(state(next.images[0]!).values, null);
    t.truthy(state(next.texts.raw!).values, 'token ids stay readable on the host');
    t.deepEqual(await next.images[0]!.data(), images, 'the uploaded values');
    t.true(Number.isFinite((await run.trainer.trainStep(next)).loss));
    tf.dispose([...batchTensors(current), ...batchTensors(next)]);
    run.dispose();
  },
);

gpuTest('a process that trains on webgpu exits by itself', async (t) => {
  const helpers = new URL('../helpers/tiny-training.ts', import.meta.url).href;
  const backend = new URL('../../src/backend.ts', import.meta.url).href;
  const code = `
    import { initBackend } from '${backend}';
    import { tinyTraining, syntheticTrainBatch } from '${helpers}';
    await initBackend({ backend: 'webgpu', quiet: true });
    const run = tinyTraining('clip', 1, 0);
    const batch = syntheticTrainBatch(run, 4, 2);
    for (let i = 0; i < 3; i++) await run.trainer.trainStep(batch);
    console.log('trained');`;
  const r = await new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, out, ms: Date.now() - t0 });
    });
  });
  t.is(r.code, 0, r.out.slice(-2000));
  t.regex(r.out, /trained/);
});
