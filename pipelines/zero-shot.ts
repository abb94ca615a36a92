// Zero-shot classification of a model on one dataset, CLIP_benchmark style.
//
//   node pipelines/zero-shot.ts --weights W.safetensors|CHECKPOINT_DIR --data DATASET [--dataset NAME]
//        [--prompts classnames-and-templates.json] [--vocab PATH] [--variant openai|declip]
//        [--normalize openai|imagenet] [--batch-size 256] [--out results/] [--model-name NAME] [--pretrained TAG]
//        [--dense (FILIP token-wise scoring; needs weights with FILIP heads)] [--backend auto|wasm|cpu] [--quiet]
//
// DATASET: a class-folder directory, a directory of MNIST IDX files, or webdataset shards with .cls.
// --prompts: JSON {"<dataset>": {"classes": [...], "templates": [...]}} (default: fixtures/demo/zero-shot.json).
// Writes {dataset}_{pretrained}_{model}_en_zeroshot_classification.json into --out and prints a table.
import { shutdownBackend } from '../src/backend.ts';
import { setupEval, runCli } from '../run/eval-cli.ts';
import { loadZeroShotPrompts } from '../src/eval/datasets/zero-shot-prompts.ts';
import { resolveDataset } from '../src/eval/dataset-spec.ts';
import { evaluateZeroShot, type ZeroShotResult } from '../src/eval/zero-shot.ts';
import { loadDenseScorer } from '../src/eval/load-model.ts';
import { denseZeroShotScorer } from '../src/eval/dense-zero-shot.ts';
import { writeResult, formatResultsTable, type BenchmarkResult } from '../src/eval/results.ts';
import { createContext, runStages } from '../stages/core/stage.ts';
import { evalImageBatches, type EvalImageBatch } from '../stages/eval/eval-image-batches.ts';
import { shardClassificationDataset } from '../stages/eval/shard-datasets.ts';
import { progress } from '../stages/core/progress.ts';

const defaultPrompts = new URL('../fixtures/demo/zero-shot.json', import.meta.url).pathname;

export async function main(argv = process.argv.slice(2)): Promise<{ record: BenchmarkResult; result: ZeroShotResult }> {
  const setup = await setupEval(
    argv,
    { prompts: { type: 'string' }, dense: { type: 'boolean', default: false } },
    'a class-folder directory, MNIST IDX directory, or shards with .cls',
  );
  const { model, tokenizer, datasetName, values } = setup;
  try {
    const prompts = await loadZeroShotPrompts((values.prompts as string | undefined) ?? defaultPrompts, datasetName);
    const ctx = createContext();
    const source = await resolveDataset(String(values.data), {
      name: datasetName,
      task: 'classification',
      classes: prompts.classes,
    });
    if (source.kind === 'retrieval') throw new Error('--data is a retrieval set; use pipelines/retrieval.ts');
    const dataset =
      source.kind === 'shards'
        ? shardClassificationDataset(source.spec, prompts.classes, ctx, datasetName)
        : source.dataset;
    const scorer = values.dense
      ? denseZeroShotScorer(model, tokenizer, await loadDenseScorer(model, setup.weightsFile))
      : undefined;
    const result = await runStages(
      ctx,
      dataset.items(),
      [
        progress({ unit: 'images', label: `zero-shot ${datasetName}`, total: dataset.size, quiet: setup.quiet }),
        evalImageBatches({ size: model.config.vision.imageSize, stats: setup.stats, batchSize: setup.batchSize }),
      ],
      (batches: AsyncIterable<EvalImageBatch<{ label: number }>>) =>
        evaluateZeroShot({ model, tokenizer, classes: prompts.classes, templates: prompts.templates, batches, scorer }),
    );
    const record = setup.record(
      'zeroshot_classification',
      { ...result.metrics },
      values.dense ? { scoring: 'filip-dense' } : {},
    );
    const path = await writeResult(String(values.out), record);
    if (!setup.quiet) console.log(`${formatResultsTable([record])}\n(wrote ${path}; ${result.labels.length} images)`);
    return { record, result };
  } finally {
    model.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runCli('zero-shot', () => main(), shutdownBackend);
