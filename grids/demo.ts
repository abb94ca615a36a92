// The benchmark's demonstration on the offline demo data (fixtures/demo): the paper's three kinds of comparison at
// a scale a 2-core machine trains in about 19 minutes (measured with --parallel 2 and the native BLAS products).
//   methods  CLIP, DeCLIP, SLIP, FILIP, DeFILIP, SigLIP (every method of the registry), each with its own options
//   towers   the tiny ViT and the tiny ModifiedResNet, each with its full text tower (2 x 64) and a curtailed one
//            (1 layer x 32 wide): the model axis, set by fields on top of the presets
//   data     the demo captions clean, and with 50 % of them passed to other images (fixtures/make-demo.ts, made on
//            first use): "data quality matters"
//   seeds    2 where each finding is tested on the ViT (every method on clean and on noisy data with the full text
//            tower, and with the curtailed one on clean data), 1 for the rest
// Every cell: batch 32 x 150 steps (4 800 samples, 1.6 passes over the 3 000 pairs), warm-up 15, cosine (with 100
// steps CLIP's two seeds ended 41 points apart: one had not yet learnt the colour words); evaluated at step 0 and at the end on zero-shot colour classification of the 500 held-out images (never trained
// on), image-text retrieval and a linear probe on 250 of them.
//   node pipelines/benchmark.ts grids/demo.ts --parallel 2 --publish docs/benchmark-demo
//        (two single-threaded slices at once; the table in runs/benchmark-demo/ and, without the cell links, in docs/)
//   node pipelines/benchmark.ts grids/demo.ts --list         (which cells are done)
import { fileURLToPath } from 'node:url';
import { defineGrid, type SupervisionAxisValue } from '../run/benchmark/grid.ts';
import { suiteEvaluation } from '../run/eval/suite-evaluation.ts';
import { supervisionNames } from '../src/supervision/index.ts';
import { ensureNoisyDemo, noisyDemoShards } from '../fixtures/make-demo.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/demo/${name}`, import.meta.url));
const heldout = fixture('heldout-000000.tar');
const prompts = fixture('zero-shot.json');
const steps = 150;

// every method of the registry, with its default options (heads and queues scale with the model)
const methods: Record<string, SupervisionAxisValue> = Object.fromEntries(
  supervisionNames.map((name) => [name, { name }]),
);

export default defineGrid({
  name: 'demo',
  base: {
    data: { shards: fixture('train-{000000..000003}.tar'), decodeConcurrency: 4 },
    text: { variant: 'declip', vocabPath: fixture('vocab.txt.gz'), contextLength: 24 },
    optim: {
      batchSize: 32,
      microBatchSize: 0,
      steps,
      totalSteps: steps,
      warmupSteps: 15,
      baseLr: 1e-4,
      peakLr: 1e-3,
      weightDecay: 0.1,
    },
    // the curves: zero-shot colour on half the held-out images, at step 0, half-way and at the end
    eval: {
      every: steps / 2,
      atStart: true,
      atEnd: false,
      evaluate: suiteEvaluation(
        {
          name: 'demo-curve',
          tasks: [{ task: 'zeroshot_classification', dataset: 'demo-color', data: heldout, prompts, limit: 250 }],
        },
        { writeResults: false },
      ),
    },
    checkpoint: { every: 25, keep: 1 },
    logging: { progress: 'plain', every: 25 },
    backend: { name: 'wasm', threads: 0 },
  },
  axes: {
    data: {
      clean: fixture('train-{000000..000003}.tar'),
      noisy50: { shards: noisyDemoShards(0.5), prepare: async () => void (await ensureNoisyDemo(0.5)) },
    },
    model: {
      vit: { preset: 'tiny' },
      'vit-text1x32': { preset: 'tiny', text: { layers: 1, width: 32 } },
      rn: { preset: 'tiny-rn' },
      'rn-text1x32': { preset: 'tiny-rn', text: { layers: 1, width: 32 } },
    },
    supervision: methods,
    // two seeds wherever a finding is tested on the ViT (methods on clean data, clean vs noisy, full vs curtailed text)
    seeds: ({ data, model }) => (model === 'vit' || (model === 'vit-text1x32' && data === 'clean') ? [0, 1] : [0]),
  },
  baseline: { data: 'clean', model: 'vit', supervision: 'clip' },
  suite: {
    name: 'demo',
    prompts,
    batchSize: 250,
    tasks: [
      { task: 'zeroshot_classification', dataset: 'demo-color', data: heldout },
      { task: 'zeroshot_retrieval', dataset: 'demo-captions', data: heldout, limit: 250 },
      // a seeded 60/20/20 split of the held-out images; 100 L-BFGS iterations suffice for 8 classes of tiny features
      {
        task: 'linear_probe',
        dataset: 'demo-color-probe',
        data: heldout,
        promptsKey: 'demo-color',
        limit: 250,
        maxIterations: 100,
      },
    ],
  },
});
