// `node pipelines/linear-probe.ts`: linear probe of a model's frozen image features, CLIP_benchmark style.
import { setupEval, positiveInt } from '../eval-cli.ts';
import { writeResult, type BenchmarkResult } from '../../src/eval/results.ts';
import type { LinearProbeResult } from '../../src/eval/linear-probe.ts';
import type { LinearProbeTaskSpec } from '../../src/eval/eval-suite.ts';
import { runLinearProbeTask } from './linear-probe-task.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { describeRecord } from './report-record.ts';

export const linearProbeUsage = `Linear probe of a model's frozen image features, CLIP_benchmark style.

  node pipelines/linear-probe.ts --weights W --data TEST_DATASET [--train-data TRAIN_DATASET]
       [--split 0.6,0.2,0.2] [--val-proportion 0.2] [--seed 0] [--feature-cache DIR] [--max-iterations 1000]
       [--limit N] [--classes FILE] [--dataset NAME] [--normalize openai|imagenet] [--batch-size 256]
       [--out results/] [--backend auto|wasm|cpu] [--quiet]

With --train-data: train on it (a seeded --val-proportion of it held out for the L2 sweep), test on --data.
Without it: --data is split into train/val/test by --split (seeded). Datasets as for pipelines/zero-shot.ts
(class folders, MNIST IDX, shards with .cls; MNIST and shards need --classes FILE, one class name per line).
--limit N: about N images of each set, every k-th. L-BFGS logistic regression, L2 chosen on the validation split.`;

export async function linearProbeCommand(
  argv: string[],
): Promise<{ record: BenchmarkResult; result: LinearProbeResult }> {
  const setup = await setupEval(
    argv,
    {
      'train-data': { type: 'string' },
      split: { type: 'string', default: '0.6,0.2,0.2' },
      'val-proportion': { type: 'string', default: '0.2' },
      seed: { type: 'string', default: '0' },
      limit: { type: 'string' },
      'feature-cache': { type: 'string' },
      'max-iterations': { type: 'string', default: '1000' },
      classes: { type: 'string' },
    },
    'a class-folder directory, MNIST IDX directory, or shards with .cls',
  );
  const { values } = setup;
  try {
    const spec: LinearProbeTaskSpec = {
      task: 'linear_probe',
      dataset: setup.datasetName,
      data: String(values.data),
      split: String(values.split).split(',').map(Number) as [number, number, number],
      valProportion: Number(values['val-proportion']),
      seed: Number(values.seed),
      maxIterations: positiveInt('max-iterations', values['max-iterations']),
      ...(values['train-data'] ? { trainData: String(values['train-data']) } : {}),
      ...(values.limit !== undefined ? { limit: positiveInt('limit', values.limit) } : {}),
      ...(values['feature-cache'] ? { featureCache: String(values['feature-cache']) } : {}),
      ...(values.classes ? { classes: String(values.classes) } : {}),
    };
    const split = spec.split!;
    if (split.length !== 3 || split.some((x) => !(x > 0)) || Math.abs(split.reduce((a, b) => a + b) - 1) > 1e-6)
      throw new Error(`--split must be three positive proportions summing to 1 (train,val,test), got ${values.split}`);
    if (!(spec.valProportion! > 0 && spec.valProportion! < 1))
      throw new Error(`--val-proportion must be in (0, 1), got ${values['val-proportion']}`);
    if (!Number.isInteger(spec.seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
    const { record, result } = await runLinearProbeTask(spec, evaluatedModelOf(setup), {
      batchSize: setup.batchSize,
      quiet: setup.quiet,
    });
    const path = await writeResult(String(values.out), record);
    if (!setup.quiet)
      console.log(
        describeRecord(record, path, `train ${record.train_size}, val ${record.val_size}, test ${record.test_size}`),
      );
    return { record, result };
  } finally {
    setup.model.dispose();
  }
}
