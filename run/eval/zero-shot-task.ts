// One zero-shot classification task: the prompt-ensemble classifier from the task's class names and templates,
// every image through the worker-pool eval transform and the image tower, acc1 / acc5 / mean per-class recall
// (CLIP_benchmark's metrics) in a CLIP_benchmark-shaped record, with the images it had to skip.
import { loadZeroShotPrompts } from '../../src/eval/datasets/zero-shot-prompts.ts';
import { evaluateZeroShot, type ZeroShotResult } from '../../src/eval/zero-shot.ts';
import { denseZeroShotScorer } from '../../src/eval/dense-zero-shot.ts';
import { mainMetric } from '../../src/eval/aggregate-score.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { ZeroShotTaskSpec } from '../../src/eval/eval-suite.ts';
import { createContext } from '../../stages/core/stage.ts';
import { openClassificationDataset } from './open-eval-dataset.ts';
import { noImagesError, streamImageBatches } from './image-batch-stream.ts';
import { SkippedImages } from '../../src/eval/skipped-images.ts';
import type { EvalRunOptions, EvaluatedModel } from './evaluated-model.ts';

export async function runZeroShotTask(
  spec: ZeroShotTaskSpec & { prompts: string },
  m: EvaluatedModel,
  options: EvalRunOptions,
): Promise<{ record: BenchmarkResult; result: ZeroShotResult }> {
  const prompts = await loadZeroShotPrompts(spec.prompts, spec.promptsKey ?? spec.dataset);
  const ctx = createContext({ signal: options.signal });
  const dataset = await openClassificationDataset(spec.data, { name: spec.dataset, classes: prompts.classes, ctx });
  const scoring = spec.scoring ?? 'auto';
  if (scoring === 'dense' && !m.dense)
    throw new Error(`zero-shot ${spec.dataset}: scoring "dense" needs a model with FILIP token mappings`);
  const dense = scoring !== 'global' ? m.dense : undefined;
  const skipped = new SkippedImages();
  const { result, images } = await streamImageBatches(
    dataset.items(),
    {
      ...options,
      ctx,
      size: m.model.config.vision.imageSize,
      stats: m.stats,
      label: `zero-shot ${spec.dataset}`,
      limit: spec.limit,
      total: dataset.size,
      skipped,
    },
    async (batches) => {
      const r = await evaluateZeroShot({
        model: m.model,
        tokenizer: m.tokenizer,
        classes: prompts.classes,
        templates: prompts.templates,
        batches,
        ...(dense ? { scorer: denseZeroShotScorer(m.model, m.tokenizer, dense) } : {}),
      });
      if (!r) throw noImagesError(`zero-shot ${spec.dataset}`, spec.data, skipped);
      return r;
    },
  );
  const record: BenchmarkResult = {
    dataset: spec.dataset,
    model: m.modelName,
    pretrained: m.pretrained,
    task: 'zeroshot_classification',
    metrics: { ...result.metrics },
    language: 'en',
    main_metric: spec.mainMetric ?? mainMetric('zeroshot_classification', spec.dataset),
    images,
    classes: prompts.classes.length,
    templates: prompts.templates.length,
    ...(dense ? { scoring: 'filip-dense' } : {}),
    ...(skipped.count > 0 ? { skipped_images: skipped.toJSON() } : {}),
  };
  return { record, result };
}
