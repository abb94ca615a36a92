// The evaluation transform for one image: decode (or take raw pixels), then resize the shorter side to
// round(size * 256/224) + centre-crop `size` + normalise (ONECROP). An image already at size x size is
// only normalised, never resampled, so a 32x32 CIFAR image reaches a 32px model pixel for pixel.
// evalView is what the image workers run (stages/image/decode-worker.ts); evalImageView is the same on the
// calling thread, for one-off images.
import { decodeImage } from '../image/decode.ts';
import { rgbImage, type RgbImage } from '../image/pixel-ops.ts';
import { applyView } from '../image/transform.ts';
import { viewPresets, type NormalizeStats } from '../image/presets.ts';
import type { ImageView, ViewSpec } from '../image/view-spec.ts';
import { Rng } from '../rng.ts';
import type { EvalImage } from './datasets/types.ts';

/** Raw interleaved 8-bit pixels (grayscale or RGB) as an RGB image. */
export function rawToRgb(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): RgbImage {
  if (pixels.length !== width * height * channels)
    throw new Error(`raw image ${width}x${height}x${channels} has ${pixels.length} bytes`);
  if (channels === 3) return rgbImage(width, height, pixels);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
  return rgbImage(width, height, rgb);
}

/** The eval view spec for an image of the given size (normalise only when it is already size x size). */
export function evalViewSpec(width: number, height: number, size: number, stats: NormalizeStats): ViewSpec {
  if (width === size && height === size)
    return { size, ops: [{ op: 'normalize', mean: [...stats.mean], std: [...stats.std] }] };
  return viewPresets.eval(size, stats);
}

const noRandomness = new Rng(0); // the eval transform draws nothing

/** The eval view (float32 HWC, normalised) of a decoded image. */
export function evalView(rgb: RgbImage, size: number, stats: NormalizeStats): ImageView {
  return applyView(rgb, evalViewSpec(rgb.width, rgb.height, size, stats), noRandomness);
}

/** Decode (or convert) one image and apply the eval view on this thread. */
export async function evalImageView(
  image: Exclude<EvalImage, { kind: 'file' }>,
  size: number,
  stats: NormalizeStats,
): Promise<ImageView> {
  const rgb =
    image.kind === 'encoded'
      ? await decodeImage(image.bytes)
      : rawToRgb(image.pixels, image.width, image.height, image.channels);
  return evalView(rgb, size, stats);
}
