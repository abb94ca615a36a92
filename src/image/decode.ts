// Decode any image sharp reads (JPEG, PNG, WebP, GIF, TIFF, AVIF...) into 8-bit sRGB HWC: EXIF orientation
// applied, grayscale / CMYK / 16-bit converted, alpha flattened onto white. Images over `maxPixels`
// (decompression bombs, absurd headers), empty, corrupt or truncated inputs raise ImageDecodeError with a
// short reason the stages count (images_skipped_<reason>).
import sharp from 'sharp';
import type { RgbImage } from './pixel-ops.ts';
import { decodeBaselineJpeg } from './baseline-jpeg.ts';

/**
 * Default pixel limit, 40 MP (e.g. 8000 x 5000; 120 MB decoded). Pillow warns at 89 MP and refuses at 179 MP,
 * but with several images in flight per worker a lower bound keeps a stream of bombs from exhausting memory.
 */
export const defaultMaxPixels = 40_000_000;

export type DecodeFailure = 'empty' | 'too-large' | 'unsupported' | 'corrupt';

export class ImageDecodeError extends Error {
  readonly reason: DecodeFailure;
  constructor(reason: DecodeFailure, message: string) {
    super(message);
    this.name = 'ImageDecodeError';
    this.reason = reason;
  }
}

function classify(err: unknown): ImageDecodeError {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (/pixel limit/i.test(message)) return new ImageDecodeError('too-large', message);
  if (/unsupported image format|empty/i.test(message)) return new ImageDecodeError('unsupported', message);
  return new ImageDecodeError('corrupt', message);
}

export interface DecodeOptions {
  maxPixels?: number;
}

/**
 * Plain baseline JPEGs up to this many pixels are decoded by src/image/baseline-jpeg.ts (the same pixels as sharp's
 * libjpeg-turbo): sharp's fixed cost of about 1 ms a call dominates small images (30 us in JavaScript for CIFAR's
 * 32x32), while sharp's SIMD decode wins on large ones.
 */
export const smallJpegPixels = 65_536;

/** Decode `bytes` to 8-bit RGB; throws ImageDecodeError for anything that is not a sound image. */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageDecodeError('empty', 'zero-size image');
  const maxPixels = options.maxPixels ?? defaultMaxPixels;
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const small = decodeBaselineJpeg(bytes, Math.min(maxPixels, smallJpegPixels));
    if (small) return small;
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning', autoOrient: true })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3)
      throw new ImageDecodeError('unsupported', `decoded to ${info.channels} channels, expected 3`);
    if (info.width * info.height > maxPixels)
      throw new ImageDecodeError(
        'too-large',
        `image ${info.width}x${info.height} exceeds the pixel limit ${maxPixels}`,
      );
    // own the pixels: sharp's Buffer may be a view into a larger pooled allocation
    const own = new Uint8Array(data.length);
    own.set(data);
    return { data: own, width: info.width, height: info.height };
  } catch (err) {
    throw err instanceof ImageDecodeError ? err : classify(err);
  }
}
