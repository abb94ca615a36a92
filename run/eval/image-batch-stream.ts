// The image side of every evaluation task: a dataset's items, optionally reduced to about `limit` images, with a
// progress line, through the worker-pool eval transform into batches, consumed by the task's sink. Returns the
// sink's result with what was skipped (bad images) and the run's counters.
import { createContext, runStages, type Sink } from '../../stages/core/stage.ts';
import { everyNth } from '../../stages/core/every-nth.ts';
import { take } from '../../stages/core/take.ts';
import { progress } from '../../stages/core/progress.ts';
import { evalImageBatches, type EvalImageBatch } from '../../stages/eval/eval-image-batches.ts';
import { SkippedImages } from '../../src/eval/skipped-images.ts';
import type { EvalItem } from '../../src/eval/datasets/types.ts';
import type { NormalizeStats } from '../../src/image/presets.ts';
import type { StageContext } from '../../stages/core/stage.ts';
import type { EvalRunOptions } from './evaluated-model.ts';

export interface ImageBatchStreamOptions extends EvalRunOptions {
  size: number;
  stats: NormalizeStats;
  label: string;
  limit?: number;
  /** The dataset's size when known (progress total; `limit` then keeps every k-th item). */
  total?: number;
  /** The context the dataset's reader counts into (shards), so one context sees everything. */
  ctx?: StageContext;
  /** Where skipped images are recorded (default: a new record, returned). */
  skipped?: SkippedImages;
}

/** The one-line error for an evaluation that had no usable image. */
export function noImagesError(what: string, data: string, skipped: SkippedImages): Error {
  return new Error(`${what}: no usable image in ${data}${skipped.count ? ` (${skipped.summary('all images')})` : ''}`);
}

export async function streamImageBatches<T extends EvalItem, R>(
  items: AsyncIterable<T> | Iterable<T>,
  options: ImageBatchStreamOptions,
  sink: Sink<EvalImageBatch<Omit<T, 'image'>>, R>,
): Promise<{ result: R; skipped: SkippedImages; images: number }> {
  const ctx = options.ctx ?? createContext({ signal: options.signal });
  const skipped = options.skipped ?? new SkippedImages();
  const { limit, total } = options;
  const subset =
    limit === undefined || limit === 0
      ? []
      : total !== undefined
        ? [everyNth<T>(Math.max(1, Math.ceil(total / limit)))]
        : [take<T>(limit)];
  const expected =
    total === undefined ? limit || undefined : limit ? Math.ceil(total / Math.max(1, Math.ceil(total / limit))) : total;
  let images = 0;
  const result = await runStages(
    ctx,
    items,
    [
      ...subset,
      progress({ unit: 'images', label: options.label, total: expected, quiet: options.quiet }),
      evalImageBatches<T>({
        size: options.size,
        stats: options.stats,
        batchSize: options.batchSize,
        pool: options.pool,
        skipped,
      }),
      async function* countImages(source: AsyncIterable<EvalImageBatch<Omit<T, 'image'>>>) {
        for await (const b of source) {
          images += b.n;
          yield b;
        }
      },
    ],
    sink,
  );
  return { result, skipped, images };
}
