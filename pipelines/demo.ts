// `npm start`: the offline demo. A tiny DeFILIP (DeCLIP's four losses + FILIP's token-wise loss) trains on the
// procedurally drawn fixtures (fixtures/demo/train-*.tar, captions like "a red star near the top on grey") with the
// BPE vocab learned from those captions, on the embedded default backend (wasm), for a few minutes; it evaluates
// zero-shot colour classification on the held-out shard (never trained on) along the way and at the end, and
// writes the report (PNG plots + one-page HTML) into the run directory.
//   node pipelines/demo.ts [--steps N] [--batch-size N] [--out DIR] [--resume latest] [any --field value]
import { fileURLToPath } from 'node:url';
import { isMain } from '../run/command.ts';
import { main } from '../run/main.ts';
import { zeroShotEvaluation } from '../run/zero-shot-hook.ts';
import type { PipelineDeclaration, DeepPartial } from '../run/declaration.ts';
import { writeRunReport } from '../run/report/write-run-report.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/demo/${name}`, import.meta.url));

export const declaration: DeepPartial<PipelineDeclaration> = {
  name: 'demo',
  seed: 0,
  data: {
    shards: fixture('train-{000000..000003}.tar'),
    env: '',
    epochs: 'endless',
    captionExtension: 'txt',
    decodeConcurrency: 6,
    missingHint: 'the demo fixtures are missing: run npm run fixtures (node fixtures/make-demo.ts)',
  },
  model: { preset: 'tiny', normalisation: 'imagenet' },
  text: { variant: 'declip', vocabPath: fixture('vocab.txt.gz'), contextLength: 24 },
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
  optim: {
    batchSize: 64,
    microBatchSize: 0,
    steps: 200,
    baseLr: 1e-4,
    peakLr: 1e-3,
    warmupSteps: 20,
    totalSteps: 200,
    minLr: 0,
    beta1: 0.9,
    beta2: 0.98,
    eps: 1e-8,
    weightDecay: 0.1,
    nanPolicy: 'rollback',
    rollbackLrFactor: 0.997,
    maxRollbacks: 10,
  },
  eval: {
    every: 50,
    atEnd: true,
    evaluate: zeroShotEvaluation({
      shards: fixture('heldout-000000.tar'),
      prompts: fixture('zero-shot.json'),
      dataset: 'demo-color',
    }),
  },
  checkpoint: { every: 50, keep: 2, resume: '', onSignal: true },
  logging: { out: 'runs/demo', progress: 'auto', every: 10 },
  backend: { name: 'wasm', threads: 0 },
};

if (isMain(import.meta)) {
  await main(declaration, import.meta, async (summary, d) => {
    const report = await writeRunReport(d.logging.out);
    const last = summary.evals.at(-1);
    if (last) {
      const r = last.results;
      process.stderr.write(
        `[demo] zero-shot demo-color top-1 ${(100 * r['demo-color/acc1']).toFixed(1)}% (chance ${(100 * r['demo-color/chance']).toFixed(1)}%), ` +
          `top-5 ${(100 * r['demo-color/acc5']).toFixed(1)}% at step ${last.step}\n`,
      );
    }
    process.stderr.write(`[demo] report: ${report.html}\n`);
  });
}
