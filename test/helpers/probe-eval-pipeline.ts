// A tiny CLIP training pipeline for tests that kill runs at chosen moments. Its evaluation announces itself on
// stderr ("EVAL-START <step>") and takes PROBE_EVAL_MS (default 300) ms, so a test can kill the process in the
// middle of one; its results are a deterministic function of the weights (sums of a few parameters), so a resumed
// run must reproduce them exactly.
import { isMain } from '../../run/command.ts';
import { main } from '../../run/main.ts';
import type { EvaluateHook } from '../../run/declaration.ts';
import { demoShards, demoVocab } from './run-pipeline-child.ts';

const probe: EvaluateHook = async ({ step, model }) => {
  process.stderr.write(`EVAL-START ${step}\n`);
  await new Promise((resolve) => setTimeout(resolve, Number(process.env.PROBE_EVAL_MS ?? 300)));
  const results: Record<string, number> = {};
  for (const e of model.store.trainableEntries().slice(0, 4)) {
    let sum = 0;
    for (const v of e.variable.dataSync() as Float32Array) sum += v;
    results[`probe/${e.name}`] = sum;
  }
  return results;
};
probe.identity = 'weights probe';

if (isMain(import.meta))
  await main(
    {
      name: 'probe',
      data: { shards: demoShards, decodeConcurrency: 2 },
      model: { preset: 'tiny' },
      text: { vocabPath: demoVocab, contextLength: 16 },
      optim: { batchSize: 8, microBatchSize: 0, steps: 10, warmupSteps: 2, totalSteps: 10 },
      eval: { every: 2, evaluate: probe },
      checkpoint: { every: 3, keep: 2 },
      logging: { progress: 'plain', every: 1 },
      backend: { name: 'wasm', threads: 1 },
    },
    import.meta,
  );
