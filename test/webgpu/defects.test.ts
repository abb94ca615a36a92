// tfjs-backend-webgpu 4.22's silent wrong results, each with the project's fix (src/webgpu/): every test here fails
// when its fix is removed. Runs on any adapter (lavapipe in CI); skipped, with the reason, where there is none.
import * as tf from '@tensorflow/tfjs';
import { supervisionNames } from '../../src/supervision/index.ts';
import { batchTensors } from '../../src/train/contracts.ts';
import { deviceErrorScope } from '../../src/webgpu/error-scope.ts';
import { webgpuDevice } from '../../src/webgpu/gpu.ts';
import { asWebgpu } from '../../src/webgpu/dispatch.ts';
import { syntheticTrainBatch, tinyTraining } from '../helpers/tiny-training.ts';
import { createToyModel, toyBatch, toyClipSupervision } from '../helpers/toy-clip.ts';
import { Trainer } from '../../src/train/trainer.ts';
import { seedAdamW } from '../../src/train/adamw.ts';
import { gpuTestFor, webgpuUnavailable } from '../helpers/webgpu.ts';

const gpuTest = gpuTestFor(await webgpuUnavailable());

/** Programs tfjs ran (class name, whether it accumulates with atomics) while f ran. */
async function programsDuring(f: () => Promise<void>): Promise<Array<{ name: string; atomic: boolean }>> {
  const backend = asWebgpu(tf.backend());
  const original = backend.runWebGPUProgram;
  const seen: Array<{ name: string; atomic: boolean }> = [];
  backend.runWebGPUProgram = (program, ...rest) => {
    const p = program as { constructor: { name: string }; atomic?: boolean };
    seen.push({ name: p.constructor.name, atomic: p.atomic === true });
    return original.call(backend, program, ...rest);
  };
  try {
    await f();
  } finally {
    backend.runWebGPUProgram = original;
  }
  return seen;
}

gpuTest(
  'Cast int32/bool -> float32 converts, so a Transpose (or an outer-axis reduction) after it is right',
  async (t) => {
    // [4, 16, 20] masks made on the device; summing over the middle axis transposes them
    const x = tf.randomNormal([4, 16, 20], 0, 1, 'float32', 9);
    const mask = tf.greater(x, 0);
    const fromBool = tf.cast(mask, 'float32');
    const fromInt = tf.cast(tf.cast(mask, 'int32'), 'float32');
    const host = (await x.data()) as Float32Array;
    const want = new Float32Array(4 * 20);
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 16; b++)
        for (let c = 0; c < 20; c++) want[a * 20 + c]! += host[(a * 16 + b) * 20 + c]! > 0 ? 1 : 0;
    for (const [label, f] of [
      ['bool', fromBool],
      ['int32', fromInt],
    ] as const) {
      const scope = deviceErrorScope();
      const sums = tf.sum(f, 1);
      const moved = tf.transpose(f, [0, 2, 1]);
      t.deepEqual(Array.from(await sums.data()), Array.from(want), `${label}: sum over axis 1`);
      t.is(
        (await tf.sum(moved).data())[0],
        want.reduce((p, q) => p + q, 0),
        `${label}: transpose`,
      );
      await t.notThrowsAsync(scope.close(`cast from ${label}`));
      tf.dispose([sums, moved]);
    }
    tf.dispose([x, mask, fromBool, fromInt]);
  },
);

gpuTest('AddN with more inputs than storage buffers per shader stage is chunked', async (t) => {
  const limit = webgpuDevice()!.limits.maxStorageBuffersPerShaderStage;
  const n = limit + 5;
  const inputs = Array.from({ length: n }, (_, i) => tf.fill([3000], i + 1));
  const scope = deviceErrorScope();
  const sum = tf.addN(inputs);
  const values = await sum.data();
  await t.notThrowsAsync(scope.close('addN'));
  t.true(
    values.every((v) => v === (n * (n + 1)) / 2),
    `addN of ${n} inputs: ${values[0]} instead of ${(n * (n + 1)) / 2}`,
  );
  tf.dispose([...inputs, sum]);
});

gpuTest(
  'a tensor larger than the adapter can bind is refused with a clear error (not summed to garbage)',
  async (t) => {
    const limit = webgpuDevice()!.limits.maxStorageBufferBindingSize;
    if (limit > 512 * 2 ** 20) {
      t.log(`maxStorageBufferBindingSize is ${limit} bytes: too large to allocate past it in a test`);
      t.pass();
      return;
    }
    const n = limit / 4 + 4096;
    t.throws(() => tf.tidy(() => tf.sum(tf.ones([n]))), {
      message: /more than this adapter can bind \(maxStorageBufferBindingSize 128\.0 MiB|maxStorageBufferBindingSize/,
    });
  },
);

gpuTest('a WebGPU error inside a training step becomes an exception naming the step', async (t) => {
  const model = createToyModel(5);
  const sup = toyClipSupervision();
  const device = webgpuDevice()!;
  const bad = {
    ...sup,
    loss(f: Record<string, tf.Tensor>, m: typeof model) {
      // an invalid buffer (no usage): a validation error, reported asynchronously by Dawn
      device.createBuffer({ size: 16, usage: 0 });
      return sup.loss(f, m);
    },
  };
  const trainer = new Trainer(model, bad, {
    schedule: { baseLr: 1e-3, peakLr: 1e-3, warmupSteps: 0, totalSteps: 10, minLr: 0 },
    adamw: seedAdamW(0.1),
    microBatchSize: 0,
    nanPolicy: 'stop',
  });
  const batch = toyBatch(6, 4, model);
  await t.throwsAsync(trainer.trainStep(batch), { message: /^WebGPU validation error in training step 1: / });
  // the next step without the fault works
  const good = new Trainer(model, sup, trainer.options);
  const r = await good.trainStep(batch);
  t.is(r.verdict.action, 'ok');
  tf.dispose(batchTensors(batch));
  trainer.dispose();
  good.dispose();
  model.store.dispose();
});

gpuTest('deterministic mode: no atomic accumulation in any supervision step; split-K matmul avoided', async (t) => {
  for (const name of supervisionNames) {
    const run = tinyTraining(name, 3, 4);
    const batch = syntheticTrainBatch(run, 8, 5);
    const programs = await programsDuring(async () => {
      await run.trainer.trainStep(batch);
    });
    const atomic = [...new Set(programs.filter((p) => p.atomic).map((p) => p.name))];
    t.deepEqual(atomic, [], `${name}: programs with float atomics: ${atomic.join(', ')}`);
    t.true(programs.length > 50, `${name}: ${programs.length} programs recorded`);
    tf.dispose(batchTensors(batch));
    run.dispose();
  }
  // the shape tfjs would run with split-K (batch 1, inner dimension >= 2000, few output tiles)
  const a = tf.randomNormal([16, 4096], 0, 1, 'float32', 5),
    b = tf.randomNormal([4096, 16], 0, 1, 'float32', 6);
  const programs = await programsDuring(async () => {
    await tf.matMul(a, b).data();
  });
  t.false(
    programs.some((p) => p.name === 'MatMulSplitKProgram'),
    programs.map((p) => p.name).join(','),
  );
  tf.dispose([a, b]);
});

gpuTest(
  'deterministic UnsortedSegmentSum (the embedding gradient) sums rows in order, like the cpu backend',
  async (t) => {
    const x = tf.randomNormal([3000, 24], 0, 1, 'float32', 3);
    const ids = tf.randomUniform([3000], -2, 60, 'int32', 4) as tf.Tensor1D; // negative ids are dropped, as in TensorFlow
    const ours = await tf.unsortedSegmentSum(x, ids, 50).data();
    const xs = (await x.data()) as Float32Array,
      is = (await ids.data()) as Int32Array;
    const want = new Float32Array(50 * 24);
    for (let i = 0; i < 3000; i++) {
      const s = is[i]!;
      if (s < 0 || s >= 50) continue;
      for (let c = 0; c < 24; c++) want[s * 24 + c] = Math.fround(want[s * 24 + c]! + xs[i * 24 + c]!);
    }
    t.deepEqual(Array.from(ours), Array.from(want));
    tf.dispose([x, ids]);
  },
);

gpuTest('two identical training runs give bitwise identical losses and weights', async (t) => {
  const once = async () => {
    const run = tinyTraining('declip', 11, 4);
    const batch = syntheticTrainBatch(run, 8, 13);
    const losses: number[] = [];
    for (let i = 0; i < 2; i++) losses.push((await run.trainer.trainStep(batch)).loss);
    const weights = (await run.model.store.get('token_embedding.weight').data()).slice();
    tf.dispose(batchTensors(batch));
    run.dispose();
    return { losses, weights };
  };
  const a = await once(),
    b = await once();
  t.deepEqual(a.losses, b.losses);
  t.true(
    a.weights.every((v, i) => v === b.weights[i]),
    'token embedding weights (trained through UnsortedSegmentSum) are identical',
  );
});
