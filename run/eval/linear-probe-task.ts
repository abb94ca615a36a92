// One linear-probe task: frozen, L2-normalised image features of the test set (and of a training set, or a seeded
// train/val/test split of the one set), an L2 penalty chosen on the validation split, refit on train + val, test
// metrics with CLIP_benchmark's lp_* keys in a CLIP_benchmark-shaped record. Features can be cached per weights file.
import { readFile } from 'node:fs/promises';
import { loadZeroShotPrompts } from '../../src/eval/datasets/zero-shot-prompts.ts';
import {
  encodeImageFeatures,
  cachedFeatures,
  featureCacheKey,
  type LabelledFeatures,
} from '../../src/eval/image-features.ts';
import { linearProbe, selectRows, splitIndices, type LinearProbeResult } from '../../src/eval/linear-probe.ts';
import { mainMetric } from '../../src/eval/aggregate-score.ts';
import { SkippedImages } from '../../src/eval/skipped-images.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { LinearProbeTaskSpec } from '../../src/eval/eval-suite.ts';
import { createContext } from '../../stages/core/stage.ts';
import { openClassificationDataset } from './open-eval-dataset.ts';
import { noImagesError, streamImageBatches } from './image-batch-stream.ts';
import type { EvalRunOptions, EvaluatedModel } from './evaluated-model.ts';

/** Class names from a file with one name per line. */
export async function readClassNames(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`class names: cannot read ${path} (${e.code ?? e.message})`);
  });
  const names = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error(`class names: ${path} has no names (one per line)`);
  return names;
}

/**
 * The class names a linear probe is told: its `classes` file, else the prompts entry when the task names a prompts
 * file or key (the key's file defaults to `suitePrompts`); undefined when the data names its classes (class folders).
 */
export async function linearProbeClassNames(
  spec: LinearProbeTaskSpec,
  suitePrompts?: string,
): Promise<string[] | undefined> {
  if (spec.classes) return readClassNames(spec.classes);
  if (!spec.prompts && !spec.promptsKey) return undefined;
  const file = spec.prompts ?? suitePrompts;
  if (!file) throw new Error(`linear probe ${spec.dataset}: promptsKey "${spec.promptsKey}" but no prompts file`);
  return (await loadZeroShotPrompts(file, spec.promptsKey ?? spec.dataset)).classes;
}

async function featuresOf(
  data: string,
  spec: LinearProbeTaskSpec,
  classNames: string[] | undefined,
  m: EvaluatedModel,
  options: EvalRunOptions,
  skipped: SkippedImages,
): Promise<{ features: LabelledFeatures; classes: string[] }> {
  const ctx = createContext({ signal: options.signal });
  const dataset = await openClassificationDataset(data, { name: spec.dataset, classes: classNames, ctx });
  const size = m.model.config.vision.imageSize;
  const compute = async () => {
    const { result } = await streamImageBatches(
      dataset.items(),
      {
        ...options,
        ctx,
        size,
        stats: m.stats,
        label: `features ${spec.dataset} (${data})`,
        limit: spec.limit,
        total: dataset.size,
        skipped,
      },
      (batches) => encodeImageFeatures(m.model, batches),
    );
    if (result.n === 0) throw noImagesError(`linear probe ${spec.dataset}`, data, skipped);
    return result;
  };
  const cacheDir = m.weightsFile ? spec.featureCache : undefined;
  const key = cacheDir
    ? await featureCacheKey(m.weightsFile!, [data, size, ...m.stats.mean, ...m.stats.std, spec.limit ?? 'all'])
    : '';
  const { features } = await cachedFeatures(cacheDir, key, compute);
  return { features, classes: dataset.classes };
}

export async function runLinearProbeTask(
  spec: LinearProbeTaskSpec,
  m: EvaluatedModel,
  options: EvalRunOptions,
  suitePrompts?: string,
): Promise<{ record: BenchmarkResult; result: LinearProbeResult }> {
  const seed = spec.seed ?? 0;
  const classNames = await linearProbeClassNames(spec, suitePrompts);
  const skipped = new SkippedImages();
  const test = await featuresOf(spec.data, spec, classNames, m, options, skipped);
  let train: LabelledFeatures, val: LabelledFeatures, testF: LabelledFeatures;
  if (spec.trainData) {
    const all = (await featuresOf(spec.trainData, spec, classNames ?? test.classes, m, options, skipped)).features;
    const p = spec.valProportion ?? 0.2;
    const [tr, va] = splitIndices(all.n, [1 - p, p], seed);
    train = selectRows(all, tr);
    val = selectRows(all, va);
    testF = test.features;
  } else {
    const [tr, va, te] = splitIndices(test.features.n, spec.split ?? [0.6, 0.2, 0.2], seed);
    train = selectRows(test.features, tr);
    val = selectRows(test.features, va);
    testF = selectRows(test.features, te);
  }
  const result = linearProbe(train, val, testF, test.classes.length, { maxIterations: spec.maxIterations ?? 1000 });
  const record: BenchmarkResult = {
    dataset: spec.dataset,
    model: m.modelName,
    pretrained: m.pretrained,
    task: 'linear_probe',
    metrics: { ...result.metrics },
    language: 'en',
    main_metric: spec.mainMetric ?? mainMetric('linear_probe', spec.dataset),
    seed,
    fewshot_k: -1,
    normalized: true,
    train_size: train.n,
    val_size: val.n,
    test_size: testF.n,
    ...(skipped.count > 0 ? { skipped_images: skipped.toJSON() } : {}),
  };
  return { record, result };
}
