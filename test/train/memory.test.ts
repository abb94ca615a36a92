import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { validateDeclaration } from '../../run/validate.ts';
import { runPipeline } from '../../run/runner.ts';
import { buildRunParts } from '../../run/run-parts.ts';
import type { TrainBatch } from '../../src/train/contracts.ts';
import { demoShards, demoVocab, tinyOptions } from '../helpers/run-pipeline-child.ts';

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
test.after.always(() => {
  shutdownBackend();
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const declaration = (method: string, extra: Record<string, unknown> = {}) =>
  validateDeclaration({
    name: `memory-${method}`,
    data: { shards: demoShards, decodeConcurrency: 2 },
    model: { preset: 'tiny' },
    text: { vocabPath: demoVocab, contextLength: 16 },
    supervision: { name: method as 'clip', options: tinyOptions[method] },
    optim: { batchSize: 8, microBatchSize: 4, steps: 300, warmupSteps: 10, totalSteps: 300 },
    eval: { every: 0, atEnd: false },
    checkpoint: { every: 0, keep: 1 },
    logging: { progress: 'none' },
    backend: { name: 'wasm' },
    ...extra,
  });

function syntheticBatch(n: number, size: number, ctx: number, views: number, seed: number): TrainBatch {
  return tf.tidy(() => ({
    images: Array.from(
      { length: views },
      (_, v) => tf.randomNormal([n, size, size, 3], 0, 1, 'float32', seed + v) as tf.Tensor4D,
    ),
    texts: {
      raw: tf.randomUniform([n, ctx], 1, 60, 'int32', seed) as tf.Tensor2D,
      eda: tf.randomUniform([n, ctx], 1, 60, 'int32', seed + 1) as tf.Tensor2D,
      mlm: tf.randomUniform([n, ctx], 1, 60, 'int32', seed + 2) as tf.Tensor2D,
      mlmLabels: tf.randomUniform([n, ctx], -1, 60, 'int32', seed + 3) as tf.Tensor2D,
    },
  }));
}

test.serial(
  'memory is flat: 200 tiny gradient-cache steps keep the tensor count constant and RSS bounded',
  async (t) => {
    const parts = await buildRunParts(declaration('clip'));
    const batch = syntheticBatch(8, parts.model.config.vision.imageSize, 16, 1, 1);
    for (let i = 0; i < 40; i++) parts.trainer.trainStep(batch); // warm-up: kernels, caches, allocator, V8 heap sizing
    const tensors = tf.memory().numTensors;
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    for (let i = 0; i < 160; i++) {
      const r = parts.trainer.trainStep(batch);
      if (tf.memory().numTensors !== tensors) {
        t.fail(`tensor count ${tf.memory().numTensors} != ${tensors} after step ${r.step}`);
        break;
      }
      if (i % 40 === 39) {
        gc();
        maxRss = Math.max(maxRss, process.memoryUsage().rss);
      }
    }
    t.is(parts.trainer.step, 200);
    t.is(tf.memory().numTensors, tensors);
    gc();
    const heapGrowthMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
    const rssGrowthMb = (maxRss - rss0) / 2 ** 20;
    t.true(heapGrowthMb < 8, `JS heap (after GC) grew by ${heapGrowthMb.toFixed(1)} MiB over 160 steps`);
    t.true(rssGrowthMb < 96, `RSS grew by ${rssGrowthMb.toFixed(1)} MiB over 160 steps`);
    t.log(
      `tensors ${tensors}; RSS ${(rss0 / 2 ** 20).toFixed(0)} -> max ${(maxRss / 2 ** 20).toFixed(0)} MiB; heap after GC ${(heap0 / 2 ** 20).toFixed(1)} -> ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );
    tf.dispose([...batch.images, ...Object.values(batch.texts)]);
    parts.dispose();
  },
);

test.serial('DeFILIP (NN queue, BN heads, dense tokens): tensor count constant over steps', async (t) => {
  const parts = await buildRunParts(declaration('defilip'));
  const batch = syntheticBatch(8, parts.model.config.vision.imageSize, 16, 2, 7);
  for (let i = 0; i < 3; i++) parts.trainer.trainStep(batch);
  const tensors = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) parts.trainer.trainStep(batch);
  t.is(tf.memory().numTensors, tensors);
  tf.dispose([...batch.images, ...Object.values(batch.texts)]);
  parts.dispose();
});

test.serial('the whole runner (data path, steps, checkpoints, metrics) leaves no tensor behind', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'memory-run-'));
  const before = tf.memory().numTensors;
  const s = await runPipeline(
    declaration('declip', {
      optim: { batchSize: 8, microBatchSize: 4, steps: 12, warmupSteps: 2, totalSteps: 12 },
      checkpoint: { every: 5, keep: 2 },
      logging: { out, progress: 'none' },
    }),
    { log: () => {} },
  );
  t.is(s.lastStep, 12);
  t.is(tf.memory().numTensors, before);
  await rm(out, { recursive: true, force: true });
});
