// Validate fetched images with sharp: the whole image must decode (truncated/corrupt files fail),
// min(width, height) >= minSide, max/min side <= maxAspect. Records width, height, format, the sha256
// of the bytes and a 64-bit dHash (src/yfcc/dhash.ts, computed from the same decode). Non-JPEG images
// are re-encoded to JPEG (quality 95, transparency flattened on white) so the shard member `.jpg` always holds a JPEG.
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Stage } from '../core/stage.ts';
import { mapConcurrent } from '../core/map-concurrent.ts';
import { dHash, hashHex } from '../../src/yfcc/dhash.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';

export interface ValidateOptions {
  minSide?: number;
  maxAspect?: number;
  concurrency?: number;
  maxPixels?: number;
}

export function validateImages(options: ValidateOptions = {}): Stage<FetchItem, FetchItem> {
  const minSide = options.minSide ?? 0,
    maxAspect = options.maxAspect ?? Infinity;
  return (source, ctx) =>
    mapConcurrent<FetchItem, FetchItem>(options.concurrency ?? 2, async (item) => {
      if (item.status !== 'success' || !item.bytes) return item;
      if (item.reused) return item; // validated by the earlier run, under the same settings (the slice's recipe)
      ctx.counters.inc('yfcc.validate.in');
      const fail = (reason: string, message: string, kind = message) => {
        item.status = 'failed_to_validate';
        item.error = message;
        item.reason = kind;
        item.bytes = undefined;
        ctx.counters.inc(`yfcc.validate.drop.${reason}`);
        return item;
      };
      try {
        const input = sharp(item.bytes, { limitInputPixels: options.maxPixels ?? 268_402_689 });
        const meta = await input.metadata();
        const w = meta.width ?? 0,
          h = meta.height ?? 0;
        if (!w || !h) return fail('undecodable', 'no image dimensions');
        const grey = await sharp(item.bytes).resize(9, 8, { fit: 'fill' }).greyscale().raw().toBuffer();
        item.width = w;
        item.height = h;
        item.format = meta.format;
        if (Math.min(w, h) < minSide)
          return fail('too-small', `min side ${Math.min(w, h)} < ${minSide}`, `min side < ${minSide}`);
        if (Math.max(w, h) / Math.min(w, h) > maxAspect)
          return fail(
            'aspect-ratio',
            `aspect ratio ${(Math.max(w, h) / Math.min(w, h)).toFixed(2)} > ${maxAspect}`,
            `aspect ratio > ${maxAspect}`,
          );
        item.sha256 = createHash('sha256').update(item.bytes).digest('hex');
        item.dhash = hashHex(dHash(grey));
        if (meta.format !== 'jpeg') {
          item.bytes = await sharp(item.bytes).flatten({ background: '#ffffff' }).jpeg({ quality: 95 }).toBuffer();
          item.reencoded = true;
        }
        ctx.counters.inc('yfcc.validate.out');
        return item;
      } catch (err) {
        return fail('undecodable', `cannot decode: ${(err as Error).message.split('\n')[0]}`, 'cannot decode');
      }
    })(source, ctx);
}
