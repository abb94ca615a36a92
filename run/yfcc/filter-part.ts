// One part of the YFCC filter job: metadata -> the filter stages -> parts/<part>.jsonl and its counters file.
// Stages (each a small file in stages/yfcc/): read lines -> parse (25-column TSV, broken lines counted) -> subset
// join (optional) -> photos only -> clean text -> camera titles -> EXIF descriptions -> caption policy -> min length
// -> English -> table row. Exact dedup needs all parts, so it runs when the parts are merged (merge-parts.ts).
import { existsSync } from 'node:fs';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
import { CLEAN_VERSION } from '../../src/yfcc/clean-yfcc-text.ts';
import type { TableRow } from '../../src/yfcc/record.ts';
import type { SubsetKeys } from '../../src/yfcc/subset-keys.ts';
import { YFCC100M_COLUMNS } from '../../src/yfcc/columns.ts';
import { LANGUAGE_ID_VERSION } from '../../src/yfcc/language.ts';
import { recipeDifference, type Recipe } from '../../src/yfcc/recipe.ts';
import { inputIdentity } from './input-identity.ts';
import { removeStaleTempFiles } from './stale-temp-files.ts';
import { tempPath } from '../../src/yfcc/temp-path.ts';

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

/** A plain TSV is split by byte ranges; everything else by round-robin blocks of `blockLines` lines (or rows). */
function splitByBlocks(path: string): boolean {
  return path.startsWith('pipe:') || /\.(bz2|gz)$/.test(path) || isNamedInput(path);
}

/** Every setting that changes the rows of a part, with defaults filled in. */
export function filterSettings(options: FilterOptions, part: Part): Record<string, unknown> {
  const path = options.metadata ?? '';
  return {
    cleanVersion: CLEAN_VERSION,
    language: options.language === false ? 'off' : LANGUAGE_ID_VERSION,
    part: `${part.index}/${part.count}`,
    ...(isNamedInput(path)
      ? { metadataFields: options.metadataFields ?? NAMED_FIELD_PRESETS['dalle-mini'] }
      : { columns: (options.columns ?? YFCC100M_COLUMNS).join(',') }),
    ...(splitByBlocks(path)
      ? { blockLines: options.blockLines ?? (path.endsWith('.parquet') ? 10_000 : 100_000) }
      : {}),
    caption: options.caption ?? 'keep-both',
    minWords: options.minWords ?? 3,
    minChars: options.minChars ?? 6,
  };
}

/** What makes part `part` of this run: its inputs' identities and settings (src/yfcc/recipe.ts). */
export async function filterRecipe(options: FilterOptions, part: Part): Promise<Recipe> {
  if (!options.metadata) throw new Error('--metadata is required to run a part');
  return {
    job: 'yfcc15m-filter',
    inputs: {
      metadata: await inputIdentity(options.metadata),
      subset: options.subset ? await inputIdentity(options.subset) : null,
    },
    settings: filterSettings(options, part),
  };
}

export interface PartFile {
  part: string;
  recipe?: Recipe;
  cleanVersion: string;
  seconds: number;
  counters: Record<string, number>;
}

export async function readPartFile(path: string): Promise<PartFile> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PartFile;
  } catch (err) {
    throw new Error(
      `${path}: not a readable part record (${(err as Error).message.split('\n')[0]}); delete it to redo the part`,
    );
  }
}

/**
 * Whether a part must run: 'run' when it is not finished (or --force), 'skip' when it is finished with the same
 * recipe. A part finished with another recipe is refused: its rows would mix with this run's in the merge.
 */
export async function partDecision(options: FilterOptions, part: Part, recipe: Recipe): Promise<'run' | 'skip'> {
  const paths = partPaths(options.out, part);
  if (options.force || !existsSync(paths.counters)) return 'run';
  const difference = recipeDifference((await readPartFile(paths.counters)).recipe, recipe);
  if (!difference) return 'skip';
  throw new Error(
    `${paths.counters} was made ${difference}; refusing to mix its rows with this run's: use another --out, or --force to redo every part`,
  );
}

/** Run one part: metadata -> parts/<part>.jsonl + .counters.json. Skips a part finished with the same recipe. */
export async function runFilterPart(
  options: FilterOptions,
  part: Part,
  ctx: StageContext = createContext(),
): Promise<'done' | 'skipped'> {
  if (!options.metadata) throw new Error('--metadata is required to run a part');
  const paths = partPaths(options.out, part);
  const recipe = await filterRecipe(options, part);
  if ((await partDecision(options, part, recipe)) === 'skip') return 'skipped';
  // Temporary files of this part left by a process that died (kill -9, a lost machine).
  const stale = await removeStaleTempFiles(dirname(paths.rows), (name) => name.startsWith(partName(part)));
  if (stale.length && !options.quiet)
    process.stderr.write(
      `yfcc15m-filter: removed ${stale.length} temporary file(s) of dead processes: ${stale.join(', ')}\n`,
    );
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
  const record: PartFile = {
    part: `${part.index}/${part.count}`,
    recipe,
    cleanVersion: CLEAN_VERSION,
    seconds,
    counters: ctx.counters.toJSON(),
  };
  await writeFile(tempPath(paths.counters), JSON.stringify(record, null, 1));
  await rename(tempPath(paths.counters), paths.counters);
  return 'done';
}
