// run/checkpoints.ts: `--resume latest` takes the newest checkpoint that reads back intact.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParamStore } from '../../src/nn/params.ts';
import { saveCheckpoint, CheckpointCorruptError } from '../../src/train/checkpoint-format.ts';
import { checkpointToResume, newestIntactCheckpoint } from '../../run/checkpoints.ts';
import { testRecord } from '../helpers/model-record.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

test('latest falls back past corrupt checkpoints, naming each; an explicit corrupt one is an error', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'resume-'));
  const ckpts = join(root, 'checkpoints');
  const store = new ParamStore();
  store.add('w', tf.tensor1d([1, 2]), { kind: 'weight' });
  for (const step of [2, 4, 6])
    await saveCheckpoint(
      ckpts,
      {
        store,
        record: testRecord(),
        moments: { step, m: {}, v: {} },
        state: {
          pipeline: 't',
          step,
          lrScale: 1,
          rollbacks: 0,
          optimizer: { step, config: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 } },
          schedule: { baseLr: 1e-4, peakLr: 1e-3, warmupSteps: 1, totalSteps: 10, minLr: 0 },
          rng: [1, 2, 3, 4],
          supervision: {},
          guard: [],
          data: { epoch: 0, samplesConsumed: step, shards: ['a.tar'], seed: 0 },
          samplesSeen: step,
          elapsedMs: 1,
          model: { preset: 'tiny', supervision: 'clip' },
        },
      },
      3,
    );
  const corrupt = async (step: number, file: string) => {
    const path = join(ckpts, `step-00000000${step}`, file);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
  };
  await corrupt(6, 'state.msgpack');
  await corrupt(4, 'optimizer.safetensors');
  const warnings: string[] = [];
  const ck = await newestIntactCheckpoint(ckpts, (l) => warnings.push(l));
  t.is(ck?.state.step, 2);
  t.is(warnings.length, 2);
  t.regex(warnings[0], /step-000000006\/state\.msgpack: corrupt .*; trying the checkpoint before it$/);
  t.regex(warnings[1], /step-000000004\/optimizer\.safetensors: corrupt/);
  t.is((await checkpointToResume('latest', root, () => {}))?.state.step, 2);
  await t.throwsAsync(
    checkpointToResume(join(ckpts, 'step-000000006'), root, () => {}),
    {
      instanceOf: CheckpointCorruptError,
      message: /step-000000006\/state\.msgpack: corrupt/,
    },
  );
  t.is(await checkpointToResume('', root, () => {}), undefined);
  t.is(await newestIntactCheckpoint(join(root, 'none'), () => {}), undefined);
  store.dispose();
  await rm(root, { recursive: true, force: true });
});
