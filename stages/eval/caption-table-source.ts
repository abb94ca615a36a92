// A CSV/TSV caption table (header row; an image-path column and a caption column, e.g. Flickr8k's
// `image,caption`) -> image entries with all captions of an image: `.txt` = captions joined by "\n",
// `.json` = {"image": path, "captions": [...]}. The table is streamed; rows of one image must be
// adjacent (as in Flickr/COCO caption files). An image that reappears later is counted
// (`caption_images_repeated`) and its later rows are skipped with a warning.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { StageContext } from '../core/stage.ts';
import { DelimitedParser, detectDelimiter, type ParsedRow } from '../../src/webdataset/delimited-parser.ts';
import { CaptionGrouper } from '../../src/webdataset/caption-grouper.ts';
import { imageExtension, keyForImagePath } from '../../src/webdataset/image-files.ts';
import type { ImageEntry } from '../image/load-image-files.ts';

export interface CaptionTableOptions {
  table: string;
  /** Directory image paths are relative to (default: <table dir>/images if it exists, else the table's dir). */
  images?: string;
  imageColumn?: string; // default 'image' (else the first column)
  captionColumn?: string; // default 'caption' (else the second column)
}

export function defaultImagesDir(table: string): string {
  const sibling = join(dirname(table), 'images');
  return existsSync(sibling) && statSync(sibling).isDirectory() ? sibling : dirname(table);
}

export async function* captionTableEntries(
  options: CaptionTableOptions,
  ctx: StageContext,
): AsyncGenerator<ImageEntry> {
  const imagesDir = options.images ?? defaultImagesDir(options.table);
  let parser: DelimitedParser | undefined;
  let header: string[] | undefined;
  let imageCol = -1,
    captionCol = -1;
  const grouper = new CaptionGrouper();
  const seen = new Set<string>();

  const toEntry = (group: { image: string; captions: string[] }): ImageEntry | undefined => {
    const key = keyForImagePath(group.image);
    if (seen.has(key)) {
      ctx.counters.inc('caption_images_repeated');
      ctx.counters.warnOnce(
        'caption-table-repeat',
        `${options.table}: rows for ${group.image} are not adjacent; later rows are skipped (sort the table by image)`,
      );
      return undefined;
    }
    seen.add(key);
    const ext = imageExtension(group.image) ?? 'jpg';
    return {
      key,
      path: isAbsolute(group.image) ? group.image : join(imagesDir, group.image),
      imageExtension: ext,
      members: {
        txt: group.captions.join('\n'),
        json: JSON.stringify({ image: group.image, captions: group.captions }),
      },
    };
  };

  const handleRows = function* (rows: ParsedRow[]): Generator<ImageEntry> {
    for (const { fields: row, line } of rows) {
      if (!header) {
        header = row.map((h) => h.trim());
        imageCol = options.imageColumn ? header.indexOf(options.imageColumn) : Math.max(header.indexOf('image'), 0);
        captionCol = options.captionColumn
          ? header.indexOf(options.captionColumn)
          : header.indexOf('caption') >= 0
            ? header.indexOf('caption')
            : 1;
        if (imageCol < 0 || captionCol < 0 || captionCol >= header.length) {
          const missing =
            imageCol < 0
              ? `image column ${JSON.stringify(options.imageColumn)}`
              : `caption column ${JSON.stringify(options.captionColumn ?? 'caption')}`;
          throw new Error(`${options.table}: header ${JSON.stringify(header)} has no ${missing}`);
        }
        continue;
      }
      if (row.length <= Math.max(imageCol, captionCol) || row[imageCol].trim() === '') {
        ctx.counters.inc('caption_rows_malformed');
        ctx.counters.warnOnce(
          'caption-table-malformed',
          `${options.table}:${line}: skipping a row with ` +
            `${row[imageCol]?.trim() ? `${row.length} field(s)` : 'no image name'}; further ones are counted ` +
            `in caption_rows_malformed`,
        );
        continue;
      }
      if (row[captionCol].trim() === '') {
        ctx.counters.inc('caption_rows_empty');
        ctx.counters.warnOnce(
          'caption-table-empty',
          `${options.table}:${line}: skipping an empty caption for ${row[imageCol]}; further ones are ` +
            `counted in caption_rows_empty`,
        );
        continue;
      }
      const done = grouper.add(row[imageCol], row[captionCol]);
      const entry = done && toEntry(done);
      if (entry) yield entry;
    }
  };

  let pending = '';
  for await (const chunk of createReadStream(options.table, { encoding: 'utf8' })) {
    let text = chunk as string;
    if (!parser) {
      pending += text;
      const newline = pending.indexOf('\n');
      if (newline < 0) continue;
      parser = new DelimitedParser(detectDelimiter(pending.slice(0, newline).replace(/^\uFEFF/, '')));
      text = pending.replace(/^\uFEFF/, '');
    }
    yield* handleRows(parser.pushRows(text));
  }
  if (!parser) {
    // A table without any newline: one header line (and nothing else).
    parser = new DelimitedParser(detectDelimiter(pending.replace(/^\uFEFF/, '')));
    yield* handleRows(parser.pushRows(pending.replace(/^\uFEFF/, '')));
  }
  yield* handleRows(parser.endRows());
  const last = grouper.flush();
  const entry = last && toEntry(last);
  if (entry) yield entry;
  if (!header) throw new Error(`${options.table}: empty caption table (expected a header like image,caption)`);
}
