// One image-text retrieval task: every image through the worker-pool eval transform and the image tower, every
// caption through the text tower, recall@k both ways (CLIP_benchmark's keys) and mean_recall@k, in a
// CLIP_benchmark-shaped record with the rows, captions and images the dataset had to leave out.
import { evaluateRetrieval, type RetrievalResult } from '../../src/eval/retrieval.ts';
import { mainMetric } from '../../src/eval/aggregate-score.ts';
import { SkippedImages } from '../../src/eval/skipped-images.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';
import type { RetrievalTaskSpec } from '../../src/eval/eval-suite.ts';
import { createContext } from '../../stages/core/stage.ts';
import { openRetrievalDataset } from './open-eval-dataset.ts';
import { noImagesError, streamImageBatches } from './image-batch-stream.ts';
import type { EvalRunOptions, EvaluatedModel } from './evaluated-model.ts';

export async function runRetrievalTask(
  spec: RetrievalTaskSpec,
  m: EvaluatedModel,
  options: EvalRunOptions,
): Promise<{ record: BenchmarkResult; result: RetrievalResult }> {
  const ctx = createContext({ signal: options.signal });
  const dataset = await openRetrievalDataset(spec.data, { name: spec.dataset, images: spec.images, ctx });
  const ks = spec.recallK ?? [1, 5, 10];
  if (dataset.dropped)
    ctx.counters.warnOnce(
      `retrieval-dropped:${spec.data}`,
      `retrieval ${spec.dataset}: left out ${Object.entries(dataset.dropped.counts)
        .map(([k, n]) => `${n} ${k.replaceAll('_', ' ')}`)
        .join(', ')} (${dataset.dropped.examples.slice(0, 3).join('; ')})`,
    );
  const skipped = new SkippedImages();
  const { result } = await streamImageBatches(
    dataset.items(),
    {
      ...options,
      ctx,
      size: m.model.config.vision.imageSize,
      stats: m.stats,
      label: `retrieval ${spec.dataset}`,
      limit: spec.limit,
      total: dataset.size,
      skipped,
    },
    async (batches) => {
      const r = await evaluateRetrieval({ model: m.model, tokenizer: m.tokenizer, batches, ks });
      if (!r) throw noImagesError(`retrieval ${spec.dataset}`, spec.data, skipped);
      return r;
    },
  );
  const withoutCaptions = ctx.counters.get('eval_images_without_captions');
  const record: BenchmarkResult = {
    dataset: spec.dataset,
    model: m.modelName,
    pretrained: m.pretrained,
    task: 'zeroshot_retrieval',
    metrics: result.metrics,
    language: 'en',
    main_metric: spec.mainMetric ?? mainMetric('zeroshot_retrieval', spec.dataset),
    images: result.images,
    texts: result.texts,
    ...(dataset.dropped ? { dropped_rows: dataset.dropped } : {}),
    ...(withoutCaptions > 0 ? { images_without_captions: withoutCaptions } : {}),
    ...(skipped.count > 0 ? { skipped_images: skipped.toJSON() } : {}),
  };
  return { record, result };
}
