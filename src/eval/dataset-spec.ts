// Resolve the evaluation dataset named on the command line:
//   a folder with one sub-folder per class          -> class-folder classification set
//   a folder with MNIST IDX files (t10k-*-ubyte[.gz]) -> MNIST-format classification set
//   a .csv/.tsv of image,caption                     -> Flickr-style retrieval set (images in <dir>/images or --images)
//   a .json COCO captions file                       -> COCO retrieval set (--images DIR)
//   anything with .tar (a shard spec)                -> webdataset shards (.cls for classification, .txt for retrieval)
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { classFolderDataset } from './datasets/class-folder.ts';
import { mnistDataset } from './datasets/mnist-idx.ts';
import { captionCsvDataset, cocoCaptionsDataset } from './datasets/caption-table.ts';
import type { ClassificationDataset, RetrievalDataset } from './datasets/types.ts';

export type DatasetSource =
  | { kind: 'shards'; spec: string }
  | { kind: 'classification'; dataset: ClassificationDataset }
  | { kind: 'retrieval'; dataset: RetrievalDataset };

/** Whether `data` names webdataset shards (a .tar/.tgz path, a brace pattern, a URL or pipe: spec), not a directory. */
export async function isShardSpec(data: string): Promise<boolean> {
  if (!/\.(tar|tgz|tar\.gz)(\b|$)|\{.*\}|^(https?:\/\/|pipe:)/.test(data)) return false;
  return !(await stat(data).catch(() => undefined))?.isDirectory();
}

export async function resolveDataset(
  data: string,
  options: { name: string; task: 'classification' | 'retrieval'; classes?: string[]; images?: string },
): Promise<DatasetSource> {
  if (await isShardSpec(data)) return { kind: 'shards', spec: data };
  const info = await stat(data).catch(() => undefined);
  if (!info) throw new Error(`${data} does not exist`);
  if (options.task === 'retrieval') {
    if (data.endsWith('.json')) {
      if (!options.images)
        throw new Error(`${data}: a COCO captions JSON needs its image directory (images, --images)`);
      return { kind: 'retrieval', dataset: await cocoCaptionsDataset(data, options.images, options.name) };
    }
    if (info.isFile())
      return {
        kind: 'retrieval',
        dataset: await captionCsvDataset(data, { imageDir: options.images, name: options.name }),
      };
    const csv = (await readdir(data)).find((f) => /^captions\.(csv|tsv|txt)$/.test(f));
    if (csv)
      return {
        kind: 'retrieval',
        dataset: await captionCsvDataset(join(data, csv), {
          imageDir: options.images ?? join(data, 'images'),
          name: options.name,
        }),
      };
    throw new Error(`${data} is not a retrieval set (expected a captions CSV/TSV, a COCO JSON, or shards)`);
  }
  if (!info.isDirectory())
    throw new Error(
      `${data} is not a classification set (expected a class-folder directory, MNIST IDX files, or shards)`,
    );
  const files = await readdir(data);
  const images = files.find((f) => /images-idx3-ubyte(\.gz)?$/.test(f));
  const labels = files.find((f) => /labels-idx1-ubyte(\.gz)?$/.test(f));
  if (images && labels) {
    if (!options.classes)
      throw new Error(`${data}: MNIST IDX files need class names (a prompts entry or a classes file)`);
    return {
      kind: 'classification',
      dataset: await mnistDataset(join(data, images), join(data, labels), options.classes, options.name),
    };
  }
  const dataset = await classFolderDataset(data, options.name);
  if (options.classes && options.classes.length !== dataset.classes.length) {
    throw new Error(
      `${data} has ${dataset.classes.length} class folders but the prompts name ${options.classes.length} classes`,
    );
  }
  return { kind: 'classification', dataset };
}
