// Retrieval sets with several captions per image: a Flickr-style CSV (`image,caption` header, one row per
// caption, RFC 4180 quoting), or COCO captions JSON ({images:[{id,file_name}], annotations:[{image_id,caption}]}).
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { RetrievalDataset } from './types.ts';

/** Parse CSV text (RFC 4180: quotes, doubled quotes, commas and newlines inside quotes). */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [],
    field = '',
    quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Group (image, caption) rows by image, keeping first-appearance order of images and captions. */
function groupCaptions(pairs: Array<[string, string]>): Map<string, string[]> {
  const byImage = new Map<string, string[]>();
  for (const [image, caption] of pairs) {
    const list = byImage.get(image);
    if (list) list.push(caption);
    else byImage.set(image, [caption]);
  }
  return byImage;
}

function datasetFrom(name: string, imageDir: string, byImage: Map<string, string[]>): RetrievalDataset {
  return {
    name,
    size: byImage.size,
    async *items() {
      for (const [image, captions] of byImage) {
        const bytes = await readFile(join(imageDir, image)).catch((e: NodeJS.ErrnoException) => {
          throw new Error(
            `retrieval dataset ${name}: cannot read image ${join(imageDir, image)} (${e.code ?? e.message})`,
          );
        });
        yield { key: image, captions, image: { kind: 'encoded', bytes: new Uint8Array(bytes) } };
      }
    },
  };
}

/** Flickr8k/30k style: CSV or TSV with columns image,caption; images resolved against imageDir (default: <csv dir>/images). */
export async function captionCsvDataset(
  csvPath: string,
  options: { imageDir?: string; name?: string; imageColumn?: string; captionColumn?: string } = {},
): Promise<RetrievalDataset> {
  const text = await readFile(csvPath, 'utf8');
  const rows = parseCsv(text, csvPath.endsWith('.tsv') ? '\t' : ',');
  const header = rows.shift() ?? [];
  const imageCol = header.indexOf(options.imageColumn ?? 'image');
  const captionCol = header.indexOf(options.captionColumn ?? 'caption');
  if (imageCol < 0 || captionCol < 0)
    throw new Error(
      `${csvPath}: header must name columns "${options.imageColumn ?? 'image'}" and "${options.captionColumn ?? 'caption'}", got ${JSON.stringify(header)}`,
    );
  const pairs = rows
    .filter((r) => r.length > Math.max(imageCol, captionCol))
    .map((r): [string, string] => [r[imageCol], r[captionCol]]);
  return datasetFrom(
    options.name ?? 'flickr',
    resolve(options.imageDir ?? join(dirname(csvPath), 'images')),
    groupCaptions(pairs),
  );
}

/** COCO captions JSON (captions_val2017.json layout). */
export async function cocoCaptionsDataset(
  jsonPath: string,
  imageDir: string,
  name = 'mscoco_captions',
): Promise<RetrievalDataset> {
  const coco = JSON.parse(await readFile(jsonPath, 'utf8')) as {
    images?: Array<{ id: number; file_name: string }>;
    annotations?: Array<{ image_id: number; caption: string }>;
  };
  if (!Array.isArray(coco.images) || !Array.isArray(coco.annotations))
    throw new Error(`${jsonPath}: not a COCO captions file (needs "images" and "annotations")`);
  const files = new Map(coco.images.map((im) => [im.id, im.file_name]));
  const pairs: Array<[string, string]> = [];
  for (const a of coco.annotations) {
    const file = files.get(a.image_id);
    if (file === undefined) throw new Error(`${jsonPath}: annotation refers to unknown image_id ${a.image_id}`);
    pairs.push([file, a.caption.trim()]);
  }
  return datasetFrom(name, imageDir, groupCaptions(pairs));
}
