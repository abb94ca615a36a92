// Child process for the atomic-checkpoint test: saves checkpoints of steps 1, 2, 3 ... in a loop (each ~16 MB,
// values derived from the step) until it is killed; prints "saved N" after each.
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../src/nn/params.ts';
import { saveCheckpoint } from '../../src/train/checkpoint-format.ts';
import { testRecord } from './model-record.ts';

await tf.setBackend('cpu');
const root = process.argv[2];
const store = new ParamStore();
store.add('w', tf.zeros([1024, 1024]), { kind: 'weight', torchLayout: 'linear' });
store.add('b', tf.zeros([1024]), { kind: 'bias' });
const size = 1024 * 1024;
for (let step = 1; ; step++) {
  const w = new Float32Array(size).fill(step);
  store.assign('w', w, [1024, 1024]);
  store.assign('b', new Float32Array(1024).fill(-step), [1024]);
  const moments = {
    step,
    m: { w: new Float32Array(size).fill(step / 10), b: new Float32Array(1024) },
    v: { w: new Float32Array(size).fill(step / 100), b: new Float32Array(1024) },
  };
  await saveCheckpoint(
    root,
    {
      store,
      record: testRecord(),
      moments,
      state: {
        pipeline: 'atomic-test',
        step,
        lrScale: 1,
        rollbacks: 0,
        optimizer: { step, config: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 } },
        schedule: { baseLr: 1, peakLr: 1, warmupSteps: 0, totalSteps: 10, minLr: 0 },
        rng: [1, 2, 3, 4],
        supervision: {},
        guard: [],
        data: { epoch: 0, samplesConsumed: step, shards: [], seed: 0 },
        samplesSeen: step,
        elapsedMs: 0,
        model: { preset: 'x', supervision: 'y' },
      },
    },
    3,
  );
  process.stdout.write(`saved ${step}\n`);
}
