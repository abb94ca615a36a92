// The offline demo's declaration: a tiny DeFILIP on the procedurally drawn fixtures (fixtures/demo/), with the BPE
// vocab learned from their captions, evaluated by zero-shot colour classification on the held-out shard.
import { fileURLToPath } from 'node:url';
import { zeroShotEvaluation } from '../zero-shot-hook.ts';
import type { PipelineDeclaration, DeepPartial } from '../declaration.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/demo/${name}`, import.meta.url));

// What differs from the defaults (the seed's CLIP recipe on YFCC-15M, run/declaration.ts).
export const demoDeclaration: DeepPartial<PipelineDeclaration> = {
  name: 'demo',
  data: {
    shards: fixture('train-{000000..000003}.tar'),
    missingHint: 'the demo fixtures are missing: run npm run fixtures (node fixtures/make-demo.ts)',
  },
  model: { preset: 'tiny' },
  text: { vocabPath: fixture('vocab.txt.gz'), contextLength: 24 },
  supervision: {
    name: 'defilip',
    // the seed's loss weights; heads and queue scaled to the tiny model (64-d embeddings)
    options: {
      projectorHidden: 256,
      projectorOut: 256,
      predictorHidden: 64,
      queueSize: 4096,
      headGhostSize: 32,
      denseDim: 64,
      topK: 8,
    },
  },
  optim: { batchSize: 64, microBatchSize: 0, steps: 200, warmupSteps: 20, totalSteps: 200 },
  eval: {
    every: 50,
    evaluate: zeroShotEvaluation({
      shards: fixture('heldout-000000.tar'),
      prompts: fixture('zero-shot.json'),
      dataset: 'demo-color',
    }),
  },
  checkpoint: { every: 50, keep: 2 },
  // npm start again starts the demo over
  logging: { out: 'runs/demo', replace: true },
  backend: { name: 'wasm' },
};
