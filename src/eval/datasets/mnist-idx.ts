// MNIST-format IDX files (images: magic 0x00000803, labels: 0x00000801; big-endian sizes), optionally gzipped.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { ClassificationDataset } from './types.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parse an unsigned-byte IDX file (gzip detected by its magic bytes). */
export function parseIdx(bytes: Uint8Array, source = 'IDX file'): IdxArray {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) throw new Error(`${source}: not an IDX file (bad magic)`);
  if (raw[2] !== 0x08)
    throw new Error(`${source}: only unsigned-byte IDX data (type 0x08) is supported, got 0x${raw[2].toString(16)}`);
  const rank = raw[3];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const offset = 4 + 4 * rank;
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length < offset + count)
    throw new Error(`${source}: truncated (${raw.length - offset} of ${count} data bytes)`);
  return { dims, data: raw.subarray(offset, offset + count) };
}

export async function mnistDataset(
  imagesPath: string,
  labelsPath: string,
  classes: string[],
  name = 'mnist',
): Promise<ClassificationDataset> {
  const images = parseIdx(new Uint8Array(await readFile(imagesPath)), imagesPath);
  const labels = parseIdx(new Uint8Array(await readFile(labelsPath)), labelsPath);
  if (images.dims.length !== 3) throw new Error(`${imagesPath}: expected a 3-d image array, got dims ${images.dims}`);
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0])
    throw new Error(`${labelsPath}: ${labels.dims[0]} labels for ${images.dims[0]} images`);
  const [n, height, width] = images.dims;
  const size = height * width;
  return {
    name,
    classes,
    size: n,
    async *items() {
      for (let i = 0; i < n; i++) {
        const label = labels.data[i];
        if (label >= classes.length)
          throw new Error(`${labelsPath}: label ${label} at ${i} but only ${classes.length} class names`);
        yield {
          key: String(i).padStart(5, '0'),
          label,
          image: { kind: 'raw', pixels: images.data.subarray(i * size, (i + 1) * size), width, height, channels: 1 },
        };
      }
    },
  };
}
