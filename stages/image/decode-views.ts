// decodeViews: WdsSample -> WdsSample & { views: ImageView[] }. Each sample's image is decoded and augmented
// into N views (view i of sample `key` drawn from deriveRng(seed, epoch, key, i)) in a piscina pool running
// stages/image/decode-worker.ts; results come back as transferred float32 HWC buffers, in input order, with at most
// maxInFlight samples being worked on (backpressure). Undecodable or missing images are skipped and counted
// (images_skipped, images_skipped_<reason>). The pool is created on the first sample and destroyed when the
// stage ends, fails or is aborted, unless a long-lived pool from createImagePool() is passed in.
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Stage } from '../core/stage.ts';
import { filterMapConcurrent } from '../core/map-concurrent.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { member } from '../../src/webdataset/sample.ts';
import { validateViewSpec, type ImageView, type ViewSpec } from '../../src/image/view-spec.ts';
import { byteViewToFloat, type ByteView } from '../../src/image/transform.ts';
import type { ImageTask, ImageTaskResult } from './decode-worker.ts';

export const defaultImageExtensions = ['jpg', 'jpeg', 'png', 'webp', 'ppm', 'pgm', 'bmp', 'tif', 'tiff', 'gif', 'avif'];

export interface ImagePoolOptions {
  /** Worker threads (default: the number of cores). */
  size?: number;
  /**
   * Tasks each worker interleaves (sharp's decode runs on the libuv pool while the worker does pixel ops); default 2.
   */
  tasksPerWorker?: number;
}

export interface ImagePool {
  run(task: ImageTask): Promise<ImageTaskResult>;
  /** Destroy the workers; pending tasks reject. Idempotent. */
  close(): Promise<void>;
  readonly size: number;
  /** The underlying piscina pool (for inspection in tests). */
  readonly piscina: Piscina;
}

export function createImagePool(options: ImagePoolOptions = {}): ImagePool {
  const size = options.size ?? availableParallelism();
  if (!(Number.isInteger(size) && size >= 1))
    throw new RangeError(`image pool size must be an integer >= 1, got ${size}`);
  const piscina = new Piscina({
    filename: new URL('./decode-worker.ts', import.meta.url).href,
    minThreads: size,
    maxThreads: size,
    concurrentTasksPerWorker: options.tasksPerWorker ?? 2,
    idleTimeout: Infinity,
  });
  // Tasks are not given the run's AbortSignal: piscina answers an abort by terminating the worker, and with
  // several tasks per worker the terminated worker's late replies surface as an 'error' event on the pool.
  // An aborted stage instead waits for its (at most maxInFlight, milliseconds each) tasks and destroys the pool.
  piscina.on('error', (err: Error) => process.stderr.write(`warning: image pool: ${err.message.split('\n')[0]}\n`));
  let closed: Promise<void> | undefined;
  return {
    size,
    piscina,
    run: (task) => piscina.run(task, { transferList: [task.bytes.buffer as ArrayBuffer] }) as Promise<ImageTaskResult>,
    close: () => (closed ??= piscina.destroy()),
  };
}

export interface DecodeViewsOptions {
  views: ViewSpec[];
  seed: number;
  epoch?: number;
  /** Member extensions tried in order for the image (default defaultImageExtensions). */
  imageExtensions?: string[];
  /** Worker threads when the stage makes its own pool (default: cores). */
  poolSize?: number;
  /** Samples decoded at once (default 4 per worker). */
  maxInFlight?: number;
  /** Images with more pixels are skipped as too-large (default 40 MP, see src/image/decode.ts). */
  maxPixels?: number;
  /** Where uint8 -> float32 + normalisation happens (default 'worker'). */
  floatIn?: 'worker' | 'main';
  /** A long-lived pool to use; the stage then leaves it open. */
  pool?: ImagePool;
  /** Called with the pool the stage creates for itself (to observe it: tests, metrics). */
  onPool?: (pool: ImagePool) => void;
}

export type WithViews<S> = S & { views: ImageView[] };

export function decodeViews<S extends WdsSample>(options: DecodeViewsOptions): Stage<S, WithViews<S>> {
  const views = options.views.map((v) => validateViewSpec(v));
  if (views.length === 0) throw new Error('decodeViews: at least one view spec is required');
  const extensions = options.imageExtensions ?? defaultImageExtensions;
  const epoch = options.epoch ?? 0;
  const floatIn = options.floatIn ?? 'worker';
  const poolSize = options.pool?.size ?? options.poolSize ?? availableParallelism();
  const maxInFlight = options.maxInFlight ?? 4 * poolSize;

  return async function* decodeViewsStage(source, ctx) {
    let pool = options.pool;
    const ownPool = pool === undefined;
    const skip = (sample: S, reason: string, message: string) => {
      ctx.counters.inc('images_skipped');
      ctx.counters.inc(`images_skipped_${reason}`);
      ctx.counters.warnOnce(
        `decode-views:${reason}`,
        `skipping sample ${sample.__key__} (${sample.__url__}): ${message}; further ones are counted in ` +
          `images_skipped_${reason}`,
      );
      return undefined;
    };
    const decodeOne = async (sample: S): Promise<WithViews<S> | undefined> => {
      let bytes: Uint8Array | undefined;
      for (const ext of extensions) if ((bytes = member(sample, ext)) !== undefined) break;
      if (bytes === undefined) return skip(sample, 'missing', `no image member (${extensions.join('/')})`);
      if (pool === undefined) {
        pool = createImagePool({ size: poolSize });
        options.onPool?.(pool);
      }
      const task: ImageTask = {
        bytes: bytes.slice(),
        key: sample.__key__,
        seed: options.seed,
        epoch,
        views,
        maxPixels: options.maxPixels,
        floatIn,
      };
      const result = await pool.run(task);
      if (!result.ok) return skip(sample, result.reason, result.message);
      ctx.counters.inc('images_decoded');
      const out =
        floatIn === 'main' ? result.views.map((v) => byteViewToFloat(v as ByteView)) : (result.views as ImageView[]);
      return { ...sample, views: out };
    };
    try {
      yield* filterMapConcurrent<S, WithViews<S>>(maxInFlight, decodeOne)(source, ctx);
    } finally {
      if (ownPool && pool) await pool.close();
    }
  };
}
