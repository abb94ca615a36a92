// `node pipelines/linear-probe.ts`: linear probe of a model's frozen image features, CLIP_benchmark style.
import { positiveInt } from '../eval-cli.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { LinearProbeResult } from '../../src/eval/linear-probe.ts';
import type { LinearProbeTaskSpec } from '../../src/eval/eval-suite.ts';
import { runLinearProbeTask } from './linear-probe-task.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { oneTaskCommand } from './one-task-command.ts';
import { evalCommandSpec } from './eval-command-options.ts';
import type { CommandOption } from '../command.ts';

const own: Record<string, CommandOption> = {
  'train-data': { type: 'string', arg: 'DATASET', help: 'train on this set and test on --data' },
  split: {
    type: 'string',
    arg: 'TR,VA,TE',
    default: '0.6,0.2,0.2',
    help: 'train/val/test split of --data (without --train-data)',
  },
  'val-proportion': { type: 'string', arg: 'P', default: '0.2', help: 'validation share of --train-data' },
  seed: { type: 'string', arg: 'N', default: '0', help: 'seed of the splits' },
  limit: { type: 'string', arg: 'N', help: 'about N images of each set, every k-th' },
  'feature-cache': { type: 'string', arg: 'DIR', help: 'cache the frozen features here (per weights file)' },
  'max-iterations': { type: 'string', arg: 'N', default: '1000', help: 'L-BFGS iterations per fit' },
  classes: { type: 'string', arg: 'FILE', help: 'class names, one a line (MNIST and shards need them)' },
};

export const linearProbeSpec = evalCommandSpec(
  {
    usage: '--weights W --data TEST_DATASET [--train-data TRAIN_DATASET] [options]',
    about:
      "Linear probe of a model's frozen image features, CLIP_benchmark style: L-BFGS logistic regression, L2 chosen on a validation split.",
    notes: `With --train-data: train on it (a seeded --val-proportion of it held out for the L2 sweep), test on --data.
Without it: --data is split into train/val/test by --split (seeded). Datasets as for pipelines/zero-shot.ts
(class folders, MNIST IDX, shards with .cls; MNIST and shards need --classes FILE).`,
  },
  own,
);

export function linearProbeCommand(
  argv: string[],
  signal?: AbortSignal,
): Promise<{ record: BenchmarkResult; result: LinearProbeResult }> {
  return oneTaskCommand(
    argv,
    own,
    'a class-folder directory, MNIST IDX directory, or shards with .cls',
    (setup) => {
      const { values } = setup;
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
        throw new Error(
          `--split must be three positive proportions summing to 1 (train,val,test), got ${values.split}`,
        );
      if (!(spec.valProportion! > 0 && spec.valProportion! < 1))
        throw new Error(`--val-proportion must be in (0, 1), got ${values['val-proportion']}`);
      if (!Number.isInteger(spec.seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
      return runLinearProbeTask(spec, evaluatedModelOf(setup), {
        batchSize: setup.batchSize,
        quiet: setup.quiet,
        signal,
      });
    },
    (record) => `train ${record.train_size}, val ${record.val_size}, test ${record.test_size}`,
  );
}
