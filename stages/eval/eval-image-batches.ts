// Evaluation data path: items (image + label or captions) -> read + decode + eval transform + float conversion in the
// image worker pool (stages/image/decode-views.ts; order kept, bounded in flight, up to a whole batch ahead so the
// workers prepare the next batch while the main thread runs the model) -> batches of NHWC float32 pixels ready to
// become one tensor, with the items' labels/captions.
// An image that cannot be used (unreadable file, empty, not an image, over the pixel limit) is skipped: counted in
// eval_images_skipped[_<reason>], warned once per reason naming the file, and recorded in `skipped` for the result.
import { availableParallelism } from 'node:os';
import type { Stage } from '../core/stage.ts';
import { filterMapConcurrent } from '../core/map-concurrent.ts';
import { batch } from '../core/batch.ts';
import { compose } from '../core/stage.ts';
import { createImagePool, type ImagePool } from '../image/decode-views.ts';
import type { ImageTask } from '../image/decode-worker.ts';
import type { NormalizeStats } from '../../src/image/presets.ts';
import type { EvalItem } from '../../src/eval/datasets/types.ts';
import type { SkippedImages } from '../../src/eval/skipped-images.ts';

export interface EvalImageBatch<T> {
  /** n x size x size x 3, float32, normalised. */
  pixels: Float32Array;
  n: number;
  size: number;
  items: T[];
}

export interface EvalImageBatchesOptions {
  size: number;
  stats: NormalizeStats;
  batchSize: number;
  /** A long-lived image pool to use (left open); otherwise the stage makes one and closes it when it ends. */
  pool?: ImagePool;
  /** Workers of the stage's own pool (default: the number of cores). */
  poolSize?: number;
  /** Images read and transformed at once (default: a batch, within 64 MiB of views, at least 4 per worker). */
  maxInFlight?: number;
  /** Images with more pixels are skipped as too-large (default: src/image/decode.ts's limit). */
  maxPixels?: number;
  /** Where skipped images are recorded (besides the counters). */
  skipped?: SkippedImages;
}

type Prepared<T> = { view: Float32Array; item: Omit<T, 'image'> };

export function evalImageBatches<T extends EvalItem>(
  options: EvalImageBatchesOptions,
): Stage<T, EvalImageBatch<Omit<T, 'image'>>> {
  const { size, stats, batchSize } = options;
  const poolSize = options.pool?.size ?? options.poolSize ?? availableParallelism();
  // up to a batch ahead, within 64 MiB of float views (a 224 px view is 0.6 MB), at least 4 per worker
  const viewBytes = size * size * 3 * 4;
  const maxInFlight =
    options.maxInFlight ?? Math.max(4 * poolSize, Math.min(batchSize, 256, Math.floor((64 * 2 ** 20) / viewBytes)));

  const prepare: Stage<T, Prepared<T>> = async function* prepareImages(source, ctx) {
    let pool = options.pool;
    const ownPool = pool === undefined;
    const skip = (item: T, reason: string, message: string): undefined => {
      const where = item.source ?? item.key;
      ctx.counters.inc('eval_images_skipped');
      ctx.counters.inc(`eval_images_skipped_${reason}`);
      ctx.counters.warnOnce(
        `eval-images:${reason}`,
        `evaluation: skipping image ${where}: ${reason}: ${message}; further ones are counted in eval_images_skipped_${reason}`,
      );
      options.skipped?.add(where, reason, message);
      return undefined;
    };
    const one = async (item: T): Promise<Prepared<T> | undefined> => {
      const image = item.image;
      let bytes = new Uint8Array(0);
      let raw: ImageTask['raw'];
      if (image.kind === 'encoded') bytes = image.bytes.slice();
      else if (image.kind === 'raw') {
        bytes = image.pixels.slice();
        raw = { width: image.width, height: image.height, channels: image.channels };
      }
      pool ??= createImagePool({ size: poolSize });
      const result = await pool.run({
        bytes,
        key: item.key,
        seed: 0,
        epoch: 0,
        views: [],
        maxPixels: options.maxPixels,
        floatIn: 'worker',
        evaluation: { size, stats },
        ...(raw ? { raw } : {}),
        ...(image.kind === 'file' ? { path: image.path } : {}),
      });
      if (!result.ok) return skip(item, result.reason, result.message);
      const { image: _image, ...rest } = item;
      return { view: result.views[0].data as Float32Array, item: rest };
    };
    try {
      yield* filterMapConcurrent<T, Prepared<T>>(maxInFlight, one)(source, ctx);
    } finally {
      if (ownPool && pool) await pool.close();
    }
  };

  const pack: Stage<Array<Prepared<T>>, EvalImageBatch<Omit<T, 'image'>>> = async function* packBatches(source) {
    const per = size * size * 3;
    for await (const group of source) {
      const pixels = new Float32Array(group.length * per);
      group.forEach(({ view }, i) => pixels.set(view, i * per));
      yield { pixels, n: group.length, size, items: group.map((g) => g.item) };
    }
  };
  return compose(prepare, batch(batchSize), pack);
}
