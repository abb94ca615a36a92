// The piscina worker module of decode-views: decode one sample's image once with sharp, apply every view
// spec with the sample's own generators, and move the pixel buffers back to the main thread (no copy).
// Undecodable images come back as { ok: false } so the stage counts them; the worker never dies on bad input.
// Evaluation tasks (`evaluation`) get the eval view of src/eval/eval-image.ts, whose ops depend on the decoded size,
// and may carry raw pixels (`raw`, e.g. MNIST) or a file to read (`path`) instead of an encoded image; the worker then
// reads it itself, so reading goes on while the main thread is busy (e.g. in the model's forward pass).
import { readFile } from 'node:fs/promises';
import { Piscina } from 'piscina';
import { decodeImage, ImageDecodeError } from '../../src/image/decode.ts';
import { applyView, applyViewBytes, viewRng, type ByteView } from '../../src/image/transform.ts';
import type { ImageView, ViewSpec } from '../../src/image/view-spec.ts';
import type { NormalizeStats } from '../../src/image/presets.ts';
import { evalView, rawToRgb } from '../../src/eval/eval-image.ts';

export interface ImageTask {
  /** The encoded image (its own ArrayBuffer, transferred to the worker); empty when `path` is given. */
  bytes: Uint8Array;
  /** Read the encoded image from this file (an unreadable file comes back as { ok: false, reason: 'unreadable' }). */
  path?: string;
  key: string;
  seed: number;
  epoch: number;
  views: ViewSpec[];
  maxPixels?: number;
  /** 'worker': return float32 views; 'main': return bytes + normalisation for the main thread to convert. */
  floatIn: 'worker' | 'main';
  /** The bytes are raw interleaved pixels of this shape (no decode). */
  raw?: { width: number; height: number; channels: 1 | 3 };
  /** Return the one evaluation view (float32) of this size and normalisation instead of `views`. */
  evaluation?: { size: number; stats: NormalizeStats };
}

export type ImageTaskResult =
  | { ok: true; views: Array<ImageView | ByteView> }
  | { ok: false; reason: string; message: string };

/** Wrap a result so piscina transfers the listed buffers instead of cloning them. */
function movable<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  return Piscina.move({ [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: value } as any) as unknown as T;
}

export default async function imageTask(task: ImageTask): Promise<ImageTaskResult> {
  let bytes = task.bytes;
  if (task.path !== undefined) {
    try {
      bytes = new Uint8Array(await readFile(task.path));
    } catch (err) {
      return {
        ok: false,
        reason: 'unreadable',
        message: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
      };
    }
  }
  let image;
  try {
    image = task.raw
      ? rawToRgb(bytes, task.raw.width, task.raw.height, task.raw.channels)
      : await decodeImage(bytes, { maxPixels: task.maxPixels });
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, reason: err.reason, message: err.message };
    throw err;
  }
  if (task.evaluation) {
    const view = evalView(image, task.evaluation.size, task.evaluation.stats);
    return movable({ ok: true, views: [view] }, [view.data.buffer as ArrayBuffer]);
  }
  const views = task.views.map((spec, i) => {
    const rng = viewRng(task.seed, task.epoch, task.key, i);
    return task.floatIn === 'worker' ? applyView(image, spec, rng) : applyViewBytes(image, spec, rng);
  });
  const buffers = [...new Set(views.map((v) => v.data.buffer as ArrayBuffer))];
  return movable({ ok: true, views }, buffers);
}
