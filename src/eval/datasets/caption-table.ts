// Retrieval sets with several captions per image: a Flickr-style CSV/TSV (`image,caption` header, one row per
// caption, RFC 4180 quoting), or COCO captions JSON ({images:[{id,file_name}], annotations:[{image_id,caption}]}).
// Nothing is dropped silently: a row with too few fields or no image name, and an empty caption, are left out and
// counted in `dropped` (with the file and line of the first few); an image left with no caption is left out too.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DelimitedParser, detectDelimiter } from '../../webdataset/delimited-parser.ts';
import type { DroppedRows, RetrievalDataset } from './types.ts';

class Dropped implements DroppedRows {
  counts: Record<string, number> = {};
  examples: string[] = [];
  add(reason: string, where: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    if (this.examples.length < 20) this.examples.push(where);
  }
}

/** Group (image, caption) pairs by image, keeping first-appearance order of images and captions. */
function groupCaptions(pairs: Array<[string, string]>): Map<string, string[]> {
  const byImage = new Map<string, string[]>();
  for (const [image, caption] of pairs) {
    const list = byImage.get(image);
    if (list) list.push(caption);
    else byImage.set(image, [caption]);
  }
  return byImage;
}

function datasetFrom(name: string, imageDir: string, byImage: Map<string, string[]>, dropped: Dropped) {
  const dataset: RetrievalDataset = {
    name,
    size: byImage.size,
    async *items() {
      for (const [image, captions] of byImage) {
        const path = join(imageDir, image);
        yield { key: image, captions, source: path, image: { kind: 'file', path } };
      }
    },
  };
  if (Object.keys(dropped.counts).length > 0) dataset.dropped = dropped;
  return dataset;
}

/** Read a caption table's text; a one-line error naming it when it cannot be read. */
async function readTable(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot read the caption table (${e.code ?? e.message})`);
  });
}

/** Flickr8k/30k style: CSV/TSV with columns image,caption; images resolved against imageDir (default <dir>/images). */
export async function captionCsvDataset(
  csvPath: string,
  options: { imageDir?: string; name?: string; imageColumn?: string; captionColumn?: string } = {},
): Promise<RetrievalDataset> {
  const text = (await readTable(csvPath)).replace(/^\uFEFF/, '');
  const firstLine = text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : text.length);
  const parser = new DelimitedParser(csvPath.endsWith('.tsv') ? '\t' : detectDelimiter(firstLine));
  let rows;
  try {
    rows = [...parser.pushRows(text), ...parser.endRows()];
  } catch (e) {
    throw new Error(`${csvPath}: ${(e as Error).message}`);
  }
  const header = rows.shift()?.fields.map((h) => h.trim()) ?? [];
  const imageName = options.imageColumn ?? 'image',
    captionName = options.captionColumn ?? 'caption';
  const imageCol = header.indexOf(imageName);
  const captionCol = header.indexOf(captionName);
  if (imageCol < 0 || captionCol < 0)
    throw new Error(
      `${csvPath}: header must name columns "${imageName}" and "${captionName}", got ${JSON.stringify(header)}`,
    );
  const dropped = new Dropped();
  const pairs: Array<[string, string]> = [];
  for (const { fields, line } of rows) {
    if (fields.length <= Math.max(imageCol, captionCol)) {
      dropped.add('malformed_rows', `${csvPath}:${line}: ${fields.length} field(s), the header has ${header.length}`);
      continue;
    }
    const image = fields[imageCol].trim(),
      caption = fields[captionCol].trim();
    if (image === '') dropped.add('malformed_rows', `${csvPath}:${line}: no image name`);
    else if (caption === '') dropped.add('empty_captions', `${csvPath}:${line}: empty caption for ${image}`);
    else pairs.push([image, caption]);
  }
  if (pairs.length === 0) throw new Error(`${csvPath}: no usable (image, caption) rows`);
  return datasetFrom(
    options.name ?? 'flickr',
    resolve(options.imageDir ?? join(dirname(csvPath), 'images')),
    groupCaptions(pairs),
    dropped,
  );
}

/** COCO captions JSON (captions_val2017.json layout). */
export async function cocoCaptionsDataset(
  jsonPath: string,
  imageDir: string,
  name = 'mscoco_captions',
): Promise<RetrievalDataset> {
  let coco: {
    images?: Array<{ id: number; file_name: string }>;
    annotations?: Array<{ image_id: number; caption: unknown }>;
  };
  try {
    coco = JSON.parse(await readTable(jsonPath));
  } catch (e) {
    if ((e as Error).message.startsWith(jsonPath)) throw e;
    throw new Error(`${jsonPath}: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(coco.images) || !Array.isArray(coco.annotations))
    throw new Error(`${jsonPath}: not a COCO captions file (needs "images" and "annotations")`);
  const files = new Map(coco.images.map((im) => [im.id, im.file_name]));
  const dropped = new Dropped();
  const pairs: Array<[string, string]> = [];
  coco.annotations.forEach((a, i) => {
    const file = files.get(a.image_id);
    if (file === undefined) throw new Error(`${jsonPath}: annotations[${i}] refers to unknown image_id ${a.image_id}`);
    const caption = typeof a.caption === 'string' ? a.caption.trim() : '';
    if (caption === '') dropped.add('empty_captions', `${jsonPath}: annotations[${i}]: empty caption for ${file}`);
    else pairs.push([file, caption]);
  });
  if (pairs.length === 0) throw new Error(`${jsonPath}: no usable (image, caption) annotations`);
  return datasetFrom(name, imageDir, groupCaptions(pairs), dropped);
}
