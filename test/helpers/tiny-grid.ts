// A 2 x 2 benchmark grid that runs in seconds: data (the demo set clean / 50 % of captions swapped) x method (CLIP,
// SLIP) on the tiny ViT, 3 steps of 8 samples, zero-shot colour classification of the held-out demo shard.
import { fileURLToPath } from 'node:url';
import { defineGrid } from '../../run/benchmark/grid.ts';
import { ensureNoisyDemo, noisyDemoShards } from '../../fixtures/make-demo.ts';
import { demoShards, demoVocab } from './run-pipeline-child.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/demo/${name}`, import.meta.url));

export default defineGrid({
  name: 'tiny',
  base: {
    data: { shards: demoShards, decodeConcurrency: 2 },
    model: { preset: 'tiny' },
    text: { vocabPath: demoVocab, contextLength: 16 },
    optim: { batchSize: 8, microBatchSize: 0, steps: 3, totalSteps: 3, warmupSteps: 1, peakLr: 1e-3 },
    eval: { every: 0, atEnd: false },
    checkpoint: { every: 1, keep: 2 },
    logging: { progress: 'plain', every: 1 },
    backend: { name: 'wasm', threads: 1 },
  },
  axes: {
    data: {
      clean: demoShards,
      noisy: { shards: noisyDemoShards(0.5), prepare: async () => void (await ensureNoisyDemo(0.5)) },
    },
    supervision: { clip: { name: 'clip' }, slip: { name: 'slip', options: { mlpHidden: 64, mlpOut: 32 } } },
    seeds: [0],
  },
  suite: {
    name: 'demo',
    batchSize: 128,
    tasks: [
      {
        task: 'zeroshot_classification',
        dataset: 'demo-color',
        data: fixture('heldout-000000.tar'),
        prompts: fixture('zero-shot.json'),
      },
    ],
  },
});
