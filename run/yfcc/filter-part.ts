// One part of the YFCC filter job: metadata -> the filter stages -> parts/<part>.jsonl and its counters file.
// Stages (each a small file in stages/yfcc/): read lines -> parse (25-column TSV, broken lines counted) -> subset
// join (optional) -> photos only -> clean text -> camera titles -> EXIF descriptions -> caption policy -> min length
// -> English -> table row. Exact dedup needs all parts, so it runs when the parts are merged (merge-parts.ts).
import { existsSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createContext, runStages, type Stage, type StageContext } from '../../stages/core/stage.ts';
import { readLines } from '../../stages/yfcc/read-lines.ts';
import { parseMetadata } from '../../stages/yfcc/parse-metadata.ts';
import { loadSubsetKeys, subsetJoin } from '../../stages/yfcc/subset-join.ts';
import { photosOnly } from '../../stages/yfcc/photos-only.ts';
import { cleanTextFields } from '../../stages/yfcc/clean-text-fields.ts';
import { rejectCameraTitles } from '../../stages/yfcc/reject-camera-titles.ts';
import { rejectExifDescriptions } from '../../stages/yfcc/reject-exif-descriptions.ts';
import { captionPolicy } from '../../stages/yfcc/caption-policy.ts';
import { minLength } from '../../stages/yfcc/min-length.ts';
import { englishOnly } from '../../stages/yfcc/english-only.ts';
import { tableRows } from '../../stages/yfcc/table-rows.ts';
import { progress } from '../../stages/core/progress.ts';
import { writeJsonl } from '../../stages/yfcc/write-jsonl.ts';
import { readJsonl } from '../../stages/yfcc/read-jsonl.ts';
import { readParquet } from '../../stages/yfcc/read-parquet.ts';
import { namedRows, NAMED_FIELD_PRESETS } from '../../stages/yfcc/named-rows.ts';
import type { CaptionPolicy } from '../../src/yfcc/caption.ts';
import { partName, type Part } from '../../src/yfcc/part.ts';
import { CLEAN_VERSION } from '../../src/yfcc/clean-text.ts';
import type { TableRow } from '../../src/yfcc/record.ts';
import type { SubsetKeys } from '../../src/yfcc/subset-keys.ts';

export const FILTER_STAGES = [
  'read',
  'parse',
  'subset',
  'photos-only',
  'clean',
  'camera-title',
  'exif-description',
  'caption',
  'min-length',
  'language',
  'dedup',
] as const;

export interface FilterOptions {
  metadata?: string;
  subset?: string;
  columns?: string[];
  /** For .parquet / .jsonl metadata: yfccColumn -> input field (stages/yfcc/named-rows.ts). */
  metadataFields?: Record<string, string>;
  out: string;
  caption?: CaptionPolicy;
  minWords?: number;
  minChars?: number;
  language?: boolean;
  blockLines?: number;
  decompressor?: 'system' | 'js';
  dedupCapacity?: number;
  dedupFalsePositiveRate?: number;
  /** Merge fails unless exactly this many metadata rows were read (e.g. 100,000,000 for YFCC100M). */
  expectRows?: number;
  force?: boolean;
  quiet?: boolean;
}

export function partPaths(out: string, part: Part) {
  const base = join(out, 'parts', partName(part));
  return { rows: base + '.jsonl', counters: base + '.counters.json' };
}

/** Metadata given as rows with named fields rather than the 25-column TSV. */
export function isNamedInput(path: string): boolean {
  return /\.(parquet|jsonl|ndjson)(\.gz|\.bz2)?$/.test(path);
}

/** The filter stages between parsing and the table (everything but dedup). */
export function filterStages(options: FilterOptions, subset?: SubsetKeys): Array<Stage<any, any>> {
  return [
    isNamedInput(options.metadata ?? '')
      ? namedRows(options.metadataFields ?? NAMED_FIELD_PRESETS['dalle-mini'])
      : parseMetadata(options.columns),
    ...(subset ? [subsetJoin(subset)] : []),
    photosOnly(),
    cleanTextFields(),
    rejectCameraTitles(),
    rejectExifDescriptions(),
    captionPolicy(options.caption ?? 'keep-both'),
    minLength(options.minWords ?? 3, options.minChars ?? 6),
    ...(options.language === false ? [] : [englishOnly()]),
    tableRows(),
  ];
}

/** Run one part: metadata -> parts/<part>.jsonl + .counters.json. Skips a finished part unless force. */
export async function runFilterPart(
  options: FilterOptions,
  part: Part,
  ctx: StageContext = createContext(),
): Promise<'done' | 'skipped'> {
  if (!options.metadata) throw new Error('yfcc15m-filter: --metadata is required to run a part');
  const paths = partPaths(options.out, part);
  if (!options.force && existsSync(paths.counters)) return 'skipped';
  const loaded = options.subset ? await loadSubsetKeys(options.subset, ctx) : undefined;
  // The list is read by every part; its own counts are recorded once (by part 0) so sums stay right.
  if (loaded && part.index === 0) for (const [k, v] of Object.entries(loaded.counters.toJSON())) ctx.counters.inc(k, v);
  const subset = loaded?.keys;
  const t0 = performance.now();
  const path = options.metadata;
  const source = path.endsWith('.parquet')
    ? readParquet({ path, part, blockRows: options.blockLines, indexField: '_pos', stage: 'read' }, ctx)
    : isNamedInput(path)
      ? readJsonl({ path, part, blockLines: options.blockLines, indexField: '_pos', stage: 'read' }, ctx)
      : readLines({ path, part, blockLines: options.blockLines, decompressor: options.decompressor }, ctx);
  await runStages(
    ctx,
    source,
    [progress({ label: `yfcc filter ${partName(part)}`, quiet: options.quiet }), ...filterStages(options, subset)],
    writeJsonl<TableRow>(paths.rows),
  );
  const seconds = (performance.now() - t0) / 1000;
  // Written last and atomically: its presence is what marks the part finished.
  await writeFile(
    paths.counters + '.partial',
    JSON.stringify(
      { part: `${part.index}/${part.count}`, cleanVersion: CLEAN_VERSION, seconds, counters: ctx.counters.toJSON() },
      null,
      1,
    ),
  );
  await rename(paths.counters + '.partial', paths.counters);
  return 'done';
}
