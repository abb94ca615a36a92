// `node pipelines/retrieval.ts`: image-text retrieval recall@k of a model on a captioned dataset, CLIP_benchmark style.
import { positiveInt } from '../eval-cli.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { RetrievalResult } from '../../src/eval/retrieval.ts';
import { runRetrievalTask } from './retrieval-task.ts';
import { evaluatedModelOf } from './evaluated-model-of.ts';
import { oneTaskCommand } from './one-task-command.ts';
import { evalCommandSpec } from './eval-command-options.ts';
import type { CommandOption } from '../command.ts';

const own: Record<string, CommandOption> = {
  images: {
    type: 'string',
    arg: 'DIR',
    help: 'image directory of a caption table or COCO JSON (default: <table dir>/images)',
  },
  'recall-k': { type: 'string', arg: 'K,K,...', default: '1,5,10', help: 'recall@k cut-offs' },
  limit: { type: 'string', arg: 'N', help: 'about N images, every k-th' },
};

export const retrievalSpec = evalCommandSpec(
  {
    usage: '--weights W --data DATASET [--images DIR] [--recall-k 1,5,10] [options]',
    about: 'Image-text retrieval recall@k of a model on a captioned dataset, CLIP_benchmark style.',
    notes: `DATASET: a Flickr-style captions CSV/TSV (image,caption; images in <dir>/images or --images), a COCO captions
JSON (--images DIR), a directory holding captions.csv|tsv|txt + images/, or webdataset shards with .txt (one caption
a line). Rows without an image name or with too few fields and empty captions are left out, counted and named
(file:line); images that cannot be used are skipped, counted and named. Metrics: image_retrieval_recall@k,
text_retrieval_recall@k and their mean, mean_recall@k.`,
  },
  own,
);

export function retrievalCommand(
  argv: string[],
  signal?: AbortSignal,
): Promise<{ record: BenchmarkResult; result: RetrievalResult }> {
  return oneTaskCommand(
    argv,
    own,
    'a captions CSV/TSV, COCO JSON, or shards with .txt',
    (setup) => {
      const { values } = setup;
      const ks = String(values['recall-k']).split(',').map(Number);
      if (!ks.every((k) => Number.isInteger(k) && k > 0))
        throw new Error(`--recall-k must be comma-separated positive integers, got ${values['recall-k']}`);
      const limit = values.limit === undefined ? undefined : positiveInt('limit', values.limit);
      return runRetrievalTask(
        {
          task: 'zeroshot_retrieval',
          dataset: setup.datasetName,
          data: String(values.data),
          recallK: ks,
          ...(values.images ? { images: String(values.images) } : {}),
          ...(limit ? { limit } : {}),
        },
        evaluatedModelOf(setup),
        { batchSize: setup.batchSize, quiet: setup.quiet, signal },
      );
    },
    (_, result) => `${result.images} images, ${result.texts} captions`,
  );
}
