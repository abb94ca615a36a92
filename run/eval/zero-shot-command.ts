// `node pipelines/zero-shot.ts`: zero-shot classification of a model on one dataset, CLIP_benchmark style.
import { setupEval, positiveInt } from '../eval-cli.ts';
import { denseScorerOf } from './dense-scorer-of.ts';
import { writeResult, type BenchmarkResult } from '../../src/eval/results.ts';
import type { ZeroShotResult } from '../../src/eval/zero-shot.ts';
import { runZeroShotTask } from './zero-shot-task.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { describeRecord } from './report-record.ts';
import { evalCommandSpec, extraFlags } from './eval-command-options.ts';
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

export async function zeroShotCommand(
  argv: string[],
  signal?: AbortSignal,
): Promise<{ record: BenchmarkResult; result: ZeroShotResult }> {
  const setup = await setupEval(
    argv,
    extraFlags(own),
    'a class-folder directory, MNIST IDX directory, or shards with .cls',
  );
  const { values } = setup;
  try {
    const limit = values.limit === undefined ? undefined : positiveInt('limit', values.limit);
    const dense = await denseScorerOf(setup);
    const { record, result } = await runZeroShotTask(
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
    const path = await writeResult(String(values.out), record);
    if (!setup.quiet) console.log(describeRecord(record, path, `${record.images} images`));
    return { record, result };
  } finally {
    setup.model.dispose();
  }
}
