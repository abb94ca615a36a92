// Image-text retrieval recall@k of a model on a captioned dataset, CLIP_benchmark style.
//
//   node pipelines/retrieval.ts --weights W --data DATASET [--images DIR] [--recall-k 1,5,10] [--dataset NAME]
//        [--vocab PATH] [--normalize openai|imagenet] [--batch-size 256] [--out results/] [--backend ...] [--quiet]
//
// DATASET: a Flickr-style captions CSV/TSV (image,caption; images in <dir>/images or --images), a COCO captions
// JSON (--images DIR), a directory holding captions.txt + images/, or webdataset shards with .txt (one caption a line).
import { shutdownBackend } from '../src/backend.ts';
import { setupEval, runCli } from '../run/eval-cli.ts';
import { resolveDataset } from '../src/eval/dataset-spec.ts';
import { evaluateRetrieval, type RetrievalResult } from '../src/eval/retrieval.ts';
import { writeResult, formatResultsTable, type BenchmarkResult } from '../src/eval/results.ts';
import { createContext, runStages } from '../stages/core/stage.ts';
import { evalImageBatches, type EvalImageBatch } from '../stages/eval/eval-image-batches.ts';
import { shardRetrievalDataset } from '../stages/eval/shard-datasets.ts';
import { progress } from '../stages/core/progress.ts';

export async function main(
  argv = process.argv.slice(2),
): Promise<{ record: BenchmarkResult; result: RetrievalResult }> {
  const setup = await setupEval(
    argv,
    { images: { type: 'string' }, 'recall-k': { type: 'string', default: '1,5,10' } },
    'a captions CSV/TSV, COCO JSON, or shards with .txt',
  );
  const { model, tokenizer, datasetName, values } = setup;
  try {
    const ks = String(values['recall-k']).split(',').map(Number);
    if (!ks.every((k) => Number.isInteger(k) && k > 0))
      throw new Error(`--recall-k must be comma-separated positive integers, got ${values['recall-k']}`);
    const ctx = createContext();
    const source = await resolveDataset(String(values.data), {
      name: datasetName,
      task: 'retrieval',
      images: values.images as string | undefined,
    });
    if (source.kind === 'classification') throw new Error('--data is a classification set; use pipelines/zero-shot.ts');
    const dataset = source.kind === 'shards' ? shardRetrievalDataset(source.spec, ctx, datasetName) : source.dataset;
    const result = await runStages(
      ctx,
      dataset.items(),
      [
        progress({ unit: 'images', label: `retrieval ${datasetName}`, total: dataset.size, quiet: setup.quiet }),
        evalImageBatches({ size: model.config.vision.imageSize, stats: setup.stats, batchSize: setup.batchSize }),
      ],
      (batches: AsyncIterable<EvalImageBatch<{ captions: string[] }>>) =>
        evaluateRetrieval({ model, tokenizer, batches, ks }),
    );
    const record = setup.record('zeroshot_retrieval', result.metrics);
    const path = await writeResult(String(values.out), record);
    if (!setup.quiet)
      console.log(
        `${formatResultsTable([record])}\n(wrote ${path}; ${result.images} images, ${result.texts} captions)`,
      );
    return { record, result };
  } finally {
    model.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runCli('retrieval', () => main(), shutdownBackend);
