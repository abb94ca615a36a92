// MNIST-format IDX files (images: magic 0x00000803, labels: 0x00000801; big-endian sizes), optionally gzipped.
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { ClassificationDataset } from './types.ts';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function gunzip(bytes: Uint8Array, source: string): Uint8Array {
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt';
    throw new Error(`${source}: ${why} gzip data (${(e as Error).message}; ${bytes.length} compressed bytes)`);
  }
}

/** Parse an unsigned-byte IDX file (gzip detected by its magic bytes); errors name `source` and what is wrong. */
export function parseIdx(bytes: Uint8Array, source = 'IDX file'): IdxArray {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzip(bytes, source) : bytes;
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0)
    throw new Error(`${source}: not an IDX file (bad magic${raw.length < 4 ? `; only ${raw.length} bytes` : ''})`);
  if (raw[2] !== 0x08)
    throw new Error(`${source}: only unsigned-byte IDX data (type 0x08) is supported, got 0x${raw[2].toString(16)}`);
  const rank = raw[3];
  if (raw.length < 4 + 4 * rank)
    throw new Error(
      `${source}: truncated header (${raw.length} bytes; a rank-${rank} IDX header needs ${4 + 4 * rank})`,
    );
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const offset = 4 + 4 * rank;
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length < offset + count)
    throw new Error(
      `${source}: truncated (${raw.length - offset} of the ${count} data bytes that dims ${dims.join('x')} need)`,
    );
  return { dims, data: raw.subarray(offset, offset + count) };
}

export async function mnistDataset(
  imagesPath: string,
  labelsPath: string,
  classes: string[],
  name = 'mnist',
): Promise<ClassificationDataset> {
  const read = async (path: string) =>
    new Uint8Array(
      await readFile(path).catch((e: NodeJS.ErrnoException) => {
        throw new Error(`${path}: cannot read (${e.code ?? e.message})`);
      }),
    );
  const images = parseIdx(await read(imagesPath), imagesPath);
  const labels = parseIdx(await read(labelsPath), labelsPath);
  if (images.dims.length !== 3) throw new Error(`${imagesPath}: expected a 3-d image array, got dims ${images.dims}`);
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0])
    throw new Error(`${labelsPath}: ${labels.dims[0]} labels for ${images.dims[0]} images`);
  const bad = labels.data.findIndex((l) => l >= classes.length);
  if (bad >= 0)
    throw new Error(
      `${labelsPath}: label ${labels.data[bad]} of image ${bad} but only ${classes.length} class names are given`,
    );
  const [n, height, width] = images.dims;
  const size = height * width;
  return {
    name,
    classes,
    size: n,
    async *items() {
      for (let i = 0; i < n; i++) {
        const label = labels.data[i];
        yield {
          key: String(i).padStart(5, '0'),
          source: `${imagesPath} image ${i}`,
          label,
          image: { kind: 'raw', pixels: images.data.subarray(i * size, (i + 1) * size), width, height, channels: 1 },
        };
      }
    },
  };
}
