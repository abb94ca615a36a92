// `node pipelines/zero-shot.ts`: zero-shot classification of a model on one dataset, CLIP_benchmark style.
import { setupEval, positiveInt } from '../eval-cli.ts';
import { loadDenseScorer } from '../../src/eval/load-model.ts';
import { writeResult, type BenchmarkResult } from '../../src/eval/results.ts';
import type { ZeroShotResult } from '../../src/eval/zero-shot.ts';
import { runZeroShotTask } from './zero-shot-task.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { describeRecord } from './report-record.ts';

export const zeroShotUsage = `Zero-shot classification of a model on one dataset, CLIP_benchmark style.

  node pipelines/zero-shot.ts --weights W.safetensors|CHECKPOINT_DIR --data DATASET [--dataset NAME]
       [--prompts classnames-and-templates.json] [--vocab PATH] [--variant openai|declip]
       [--normalize openai|imagenet] [--batch-size 256] [--limit N] [--out results/] [--model-name NAME]
       [--pretrained TAG] [--dense] [--backend auto|wasm|cpu] [--quiet]

DATASET: a class-folder directory, a directory of MNIST IDX files, or webdataset shards with .cls.
--prompts: JSON {"<dataset>": {"classes": [...], "templates": [...]}} (default: fixtures/demo/zero-shot.json);
           --dataset names the entry (default: the data's base name).
--limit N: about N images, every k-th (all classes kept).  --dense: FILIP token-wise scoring (FILIP heads needed).
Images that cannot be used (unreadable, empty, not an image, over the pixel limit) are skipped, counted and named.
Writes {dataset}_{pretrained}_{model}_en_zeroshot_classification.json into --out and prints a table.`;

const defaultPrompts = new URL('../../fixtures/demo/zero-shot.json', import.meta.url).pathname;

export async function zeroShotCommand(argv: string[]): Promise<{ record: BenchmarkResult; result: ZeroShotResult }> {
  const setup = await setupEval(
    argv,
    { prompts: { type: 'string' }, dense: { type: 'boolean', default: false }, limit: { type: 'string' } },
    'a class-folder directory, MNIST IDX directory, or shards with .cls',
  );
  const { values } = setup;
  try {
    const limit = values.limit === undefined ? undefined : positiveInt('limit', values.limit);
    const dense = values.dense ? await loadDenseScorer(setup.model, setup.weightsFile) : undefined;
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
      { batchSize: setup.batchSize, quiet: setup.quiet },
    );
    const path = await writeResult(String(values.out), record);
    if (!setup.quiet) console.log(describeRecord(record, path, `${record.images} images`));
    return { record, result };
  } finally {
    setup.model.dispose();
  }
}
