// The piscina worker module of decode-views: decode one sample's image once with sharp, apply every view
// spec with the sample's own generators, and move the pixel buffers back to the main thread (no copy).
// Undecodable images come back as { ok: false } so the stage counts them; the worker never dies on bad input.
import { Piscina } from 'piscina';
import { decodeImage, ImageDecodeError } from '../../src/image/decode.ts';
import { applyView, applyViewBytes, viewRng, type ByteView } from '../../src/image/transform.ts';
import type { ImageView, ViewSpec } from '../../src/image/view-spec.ts';

export interface ImageTask {
  /** The encoded image (its own ArrayBuffer, transferred to the worker). */
  bytes: Uint8Array;
  key: string;
  seed: number;
  epoch: number;
  views: ViewSpec[];
  maxPixels?: number;
  /** 'worker': return float32 views; 'main': return bytes + normalisation for the main thread to convert. */
  floatIn: 'worker' | 'main';
}

export type ImageTaskResult =
  | { ok: true; views: Array<ImageView | ByteView> }
  | { ok: false; reason: string; message: string };

/** Wrap a result so piscina transfers the listed buffers instead of cloning them. */
function movable<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  return Piscina.move({ [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: value } as any) as unknown as T;
}

export default async function imageTask(task: ImageTask): Promise<ImageTaskResult> {
  let image;
  try {
    image = await decodeImage(task.bytes, { maxPixels: task.maxPixels });
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, reason: err.reason, message: err.message };
    throw err;
  }
  const views = task.views.map((spec, i) => {
    const rng = viewRng(task.seed, task.epoch, task.key, i);
    return task.floatIn === 'worker' ? applyView(image, spec, rng) : applyViewBytes(image, spec, rng);
  });
  const buffers = [...new Set(views.map((v) => v.data.buffer as ArrayBuffer))];
  return movable({ ok: true, views }, buffers);
}
