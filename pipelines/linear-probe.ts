// Linear probe of a model's frozen image features, CLIP_benchmark style.
//
//   node pipelines/linear-probe.ts --weights W --data TEST_DATASET [--train-data TRAIN_DATASET]
//        [--split 0.6,0.2,0.2] [--val-proportion 0.2] [--seed 0] [--feature-cache DIR] [--max-iterations 1000]
//        [--limit N (every k-th image, about N in all)]
//        [--dataset NAME] [--normalize openai|imagenet] [--batch-size 256] [--out results/] [--backend ...] [--quiet]
//
// With --train-data: train on it (a seeded --val-proportion of it held out for the L2 sweep), test on --data.
// Without it: --data is split into train/val/test by --split (seeded). Datasets as for pipelines/zero-shot.ts
// (class folders, MNIST IDX, shards with .cls + a classnames list given by --classes FILE, one per line).
import { readFile } from 'node:fs/promises';
import { shutdownBackend } from '../src/backend.ts';
import { setupEval, runCli, positiveInt, type EvalSetup } from '../run/eval-cli.ts';
import { resolveDataset } from '../src/eval/dataset-spec.ts';
import {
  encodeImageFeatures,
  cachedFeatures,
  featureCacheKey,
  type LabelledFeatures,
} from '../src/eval/image-features.ts';
import { linearProbe, selectRows, splitIndices, type LinearProbeResult } from '../src/eval/linear-probe.ts';
import { writeResult, formatResultsTable, type BenchmarkResult } from '../src/eval/results.ts';
import { createContext, runStages } from '../stages/core/stage.ts';
import { evalImageBatches, type EvalImageBatch } from '../stages/eval/eval-image-batches.ts';
import { shardClassificationDataset } from '../stages/eval/shard-datasets.ts';
import { progress } from '../stages/core/progress.ts';
import { everyNth } from '../stages/core/every-nth.ts';

async function featuresOf(
  setup: EvalSetup,
  data: string,
  classes: string[] | undefined,
): Promise<{ features: LabelledFeatures; classes: string[] }> {
  const ctx = createContext();
  const source = await resolveDataset(data, { name: setup.datasetName, task: 'classification', classes });
  if (source.kind === 'retrieval') throw new Error(`${data} is a retrieval set; a linear probe needs class labels`);
  if (source.kind === 'shards' && !classes)
    throw new Error('shards with .cls need --classes FILE (one class name per line)');
  const dataset =
    source.kind === 'shards'
      ? shardClassificationDataset(source.spec, classes!, ctx, setup.datasetName)
      : source.dataset;
  const size = setup.model.config.vision.imageSize;
  const key = await featureCacheKey(setup.weightsFile, [
    data,
    size,
    setup.normalisation,
    String(setup.values.limit ?? 'all'),
  ]);
  const limit = setup.values.limit === undefined ? undefined : positiveInt('limit', setup.values.limit);
  if (limit !== undefined && dataset.size === undefined)
    throw new Error('--limit needs a dataset whose size is known up front (class folders, MNIST)');
  const stride = limit === undefined ? 1 : Math.max(1, Math.ceil(dataset.size! / limit));
  const { features, cached } = await cachedFeatures(setup.values['feature-cache'] as string | undefined, key, () =>
    runStages(
      ctx,
      dataset.items(),
      [
        everyNth(stride),
        progress({
          unit: 'images',
          label: `features ${data}`,
          total: dataset.size === undefined ? undefined : Math.ceil(dataset.size / stride),
          quiet: setup.quiet,
        }),
        evalImageBatches({ size, stats: setup.stats, batchSize: setup.batchSize }),
      ],
      (batches: AsyncIterable<EvalImageBatch<{ label: number }>>) => encodeImageFeatures(setup.model, batches),
    ),
  );
  if (cached && !setup.quiet) console.error(`linear-probe: features of ${data} read from the cache`);
  return { features, classes: dataset.classes };
}

export async function main(
  argv = process.argv.slice(2),
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
    const seed = Number(values.seed);
    const maxIterations = positiveInt('max-iterations', values['max-iterations']);
    const classNames = values.classes
      ? (await readFile(String(values.classes), 'utf8'))
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
      : undefined;
    const test = await featuresOf(setup, String(values.data), classNames);
    let train: LabelledFeatures, val: LabelledFeatures, testF: LabelledFeatures;
    if (values['train-data']) {
      const all = (await featuresOf(setup, String(values['train-data']), classNames ?? test.classes)).features;
      const p = Number(values['val-proportion']);
      if (!(p > 0 && p < 1)) throw new Error(`--val-proportion must be in (0, 1), got ${values['val-proportion']}`);
      const [tr, va] = splitIndices(all.n, [1 - p, p], seed);
      train = selectRows(all, tr);
      val = selectRows(all, va);
      testF = test.features;
    } else {
      const proportions = String(values.split).split(',').map(Number);
      if (
        proportions.length !== 3 ||
        proportions.some((x) => !(x > 0)) ||
        Math.abs(proportions.reduce((a, b) => a + b) - 1) > 1e-6
      ) {
        throw new Error(
          `--split must be three positive proportions summing to 1 (train,val,test), got ${values.split}`,
        );
      }
      const [tr, va, te] = splitIndices(test.features.n, proportions, seed);
      train = selectRows(test.features, tr);
      val = selectRows(test.features, va);
      testF = selectRows(test.features, te);
    }
    const result = linearProbe(train, val, testF, test.classes.length, { maxIterations });
    const record = setup.record(
      'linear_probe',
      { ...result.metrics },
      { seed, fewshot_k: -1, normalized: true, train_size: train.n, val_size: val.n, test_size: testF.n },
    );
    const path = await writeResult(String(values.out), record);
    if (!setup.quiet)
      console.log(`${formatResultsTable([record])}\n(wrote ${path}; train ${train.n}, val ${val.n}, test ${testF.n})`);
    return { record, result };
  } finally {
    setup.model.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runCli('linear-probe', () => main(), shutdownBackend);
