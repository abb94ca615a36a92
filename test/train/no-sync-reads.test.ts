// The training step never reads a tensor synchronously, on any backend: a GPU backend cannot answer a synchronous
// read (tfjs-backend-webgpu's dataSync throws in Node) and every blocking read stalls the device. Two checks:
//   1. the hot-path source files contain no dataSync/arraySync/bufferSync/readSync call;
//   2. real steps of all five supervisions (with and without the gradient cache) run with those methods trapped.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { readdirSync, readFileSync } from 'node:fs';
import { batchTensors } from '../../src/train/contracts.ts';
import { supervisionNames } from '../../src/supervision/index.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { syntheticTrainBatch, tinyTraining } from '../helpers/tiny-training.ts';

const repo = new URL('../../', import.meta.url);
const dir = (d: string) =>
  readdirSync(new URL(d, repo))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${d}/${f}`);

/** Every file the training step runs through (the models' forward passes are covered by check 2). */
const HOT_PATH = [
  'src/train/trainer.ts',
  'src/train/adamw.ts',
  'src/train/grad-cache.ts',
  'src/train/nan-guard.ts',
  'src/train/backprop.ts',
  'src/train/step-effects.ts',
  'src/distributed/data-parallel.ts',
  'src/host-values.ts',
  'src/nn/detach.ts',
  'stages/train/train-step-stage.ts',
  ...dir('src/supervision'),
  ...dir('src/webgpu'),
];

const SYNC_READ = /\.(dataSync|arraySync|bufferSync|readSync)\s*\(/;

test('no synchronous tensor read in the training hot path (source scan)', (t) => {
  const found: string[] = [];
  for (const file of HOT_PATH) {
    readFileSync(new URL(file, repo), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        if (SYNC_READ.test(code)) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  t.deepEqual(found, [], `synchronous reads found:\n${found.join('\n')}`);
  t.true(HOT_PATH.length > 15);
});

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
test.after.always(() => shutdownBackend());

test.serial('training steps of every supervision run with synchronous reads trapped (wasm)', async (t) => {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const trapped = ['dataSync', 'arraySync', 'bufferSync'] as const;
  const saved = trapped.map((k) => proto[k]);
  const engine = tf.engine() as unknown as { readSync: unknown };
  const savedEngineRead = engine.readSync;
  const calls: string[] = [];
  const trap = (name: string) =>
    function (this: unknown) {
      calls.push(`${name}: ${new Error().stack?.split('\n').slice(2, 5).join(' <- ')}`);
      throw new Error(`synchronous read (${name}) during a training step`);
    };
  for (const setup of supervisionNames.flatMap((name) => [
    { name, micro: 0 },
    { name, micro: 4 },
  ])) {
    const run = tinyTraining(setup.name, 3, setup.micro);
    const batch = syntheticTrainBatch(run, 8, 5);
    trapped.forEach((k) => {
      proto[k] = trap(k);
    });
    engine.readSync = trap('engine.readSync');
    try {
      // two steps where the NN queue is involved (the second looks up what the first enqueued)
      for (let i = 0; i < (setup.name.includes('declip') ? 2 : 1); i++) {
        const r = await run.trainer.trainStep(batch);
        t.is(r.verdict.action, 'ok', `${setup.name}: ${JSON.stringify(r.verdict)}`);
        t.true(Number.isFinite(r.loss));
      }
    } finally {
      trapped.forEach((k, i) => {
        proto[k] = saved[i];
      });
      engine.readSync = savedEngineRead;
    }
    batchTensors(batch).forEach((x) => x.dispose());
    run.dispose();
  }
  t.deepEqual(calls, []);
});
