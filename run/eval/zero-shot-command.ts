// `node pipelines/zero-shot.ts`: zero-shot classification of a model on one dataset, CLIP_benchmark style.
import { positiveInt } from '../eval-cli.ts';
import { denseScorerOf } from './dense-scorer-of.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { ZeroShotResult } from '../../src/eval/zero-shot.ts';
import { runZeroShotTask } from './zero-shot-task.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { oneTaskCommand } from './one-task-command.ts';
import { evalCommandSpec } from './eval-command-options.ts';
import type { CommandOption } from '../command.ts';

const own: Record<string, CommandOption> = {
  prompts: {
    type: 'string',
    arg: 'FILE',
    help: 'classnames-and-templates JSON (default: fixtures/demo/zero-shot.json)',
  },
  limit: { type: 'string', arg: 'N', help: 'about N images, every k-th (every class kept)' },
  dense: {
    type: 'boolean',
    help: "FILIP's token-wise scoring of zero-shot tasks (default: as in training, on for FILIP checkpoints; --no-dense: off)",
  },
};

export const zeroShotSpec = evalCommandSpec(
  {
    usage: '--weights W --data DATASET [--dataset NAME] [--prompts FILE] [options]',
    about:
      'Zero-shot classification of a model on one dataset, CLIP_benchmark style: prompt-ensemble classifier, acc1, acc5, mean per-class recall.',
    notes: `DATASET: a class-folder directory, a directory of MNIST IDX files, or webdataset shards with .cls.
--prompts: JSON {"<dataset>": {"classes": [...], "templates": [...]}}; --dataset names the entry.
Images that cannot be used (unreadable, empty, not an image, over the pixel limit) are skipped, counted and named.
Writes {dataset}_{pretrained}_{model}_en_zeroshot_classification.json into --out and prints a table.`,
  },
  own,
);

const defaultPrompts = new URL('../../fixtures/demo/zero-shot.json', import.meta.url).pathname;

export function zeroShotCommand(
  argv: string[],
  signal?: AbortSignal,
): Promise<{ record: BenchmarkResult; result: ZeroShotResult }> {
  return oneTaskCommand(
    argv,
    own,
    'a class-folder directory, MNIST IDX directory, or shards with .cls',
    async (setup) => {
      const { values } = setup;
      const limit = values.limit === undefined ? undefined : positiveInt('limit', values.limit);
      const dense = await denseScorerOf(setup);
      return runZeroShotTask(
        {
          task: 'zeroshot_classification',
          dataset: setup.datasetName,
          data: String(values.data),
          prompts: (values.prompts as string | undefined) ?? defaultPrompts,
          scoring: dense ? 'dense' : 'global',
          ...(limit ? { limit } : {}),
        },
        evaluatedModelOf(setup, dense),
        { batchSize: setup.batchSize, quiet: setup.quiet, signal },
      );
    },
    (record) => `${record.images} images`,
  );
}
