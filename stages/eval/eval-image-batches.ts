// Evaluation data path: items (image + label or captions) -> read the file (concurrently, on the main thread) ->
// decode + eval transform + float conversion in the image worker pool (stages/image/decode-views.ts, order kept,
// bounded in flight) -> batches of NHWC float32 pixels ready to become one tensor, with the items' labels/captions.
// An image that cannot be used (unreadable file, empty, not an image, over the pixel limit) is skipped: counted in
// eval_images_skipped[_<reason>], warned once per reason naming the file, and recorded in `skipped` for the result.
import { readFile } from 'node:fs/promises';
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
  /** Images read and transformed at once (default 4 per worker). */
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
  const maxInFlight = options.maxInFlight ?? 4 * poolSize;

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
      let bytes: Uint8Array;
      let raw: ImageTask['raw'];
      if (image.kind === 'file') {
        try {
          const b = await readFile(image.path);
          bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
        } catch (e) {
          return skip(item, 'unreadable', (e as NodeJS.ErrnoException).code ?? (e as Error).message);
        }
      } else if (image.kind === 'encoded') bytes = image.bytes.slice();
      else {
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
