import * as tf from '@tensorflow/tfjs';
import { initBackend } from './src/backend.ts';
import { tinyTraining, syntheticTrainBatch } from './test/helpers/tiny-training.ts';
await initBackend({ backend: (process.argv[2] ?? 'webgpu') as any });
for (const name of ['clip', 'defilip']) {
  const run = tinyTraining(name, 3, Number(process.argv[3] ?? 0));
  const batch = syntheticTrainBatch(run, 8, 5);
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const r = await run.trainer.trainStep(batch);
    console.log(name, i, r.loss, r.gradNorm, (performance.now() - t0).toFixed(0), 'ms', tf.memory().numTensors);
  }
}
