// YFCC100M metadata -> clean caption table (JSON lines), with a per-stage report.
//
//   node pipelines/yfcc15m-filter.ts --metadata yfcc100m_dataset.bz2 [--subset yfcc100m_subset_data.tsv.bz2] \
//        --out out/yfcc15m [--caption keep-both|title|description|concat] [--parts 8 --parallel 2]
//   node pipelines/yfcc15m-filter.ts --metadata train-00000.parquet --metadata-fields dalle-mini --out out/dm
//
// --metadata: the 25-column TSV (plain, .bz2, .gz, or pipe:CMD; --columns for another column order),
// or rows with named fields (.parquet, .jsonl[.gz|.bz2]; --metadata-fields preset or col=field,...).
// Stages (each a small file in stages/yfcc/*.ts): read lines -> parse (25-column TSV, broken lines
// counted) -> subset join (optional) -> photos only -> clean text (yfcc-clean-v1) -> camera titles ->
// EXIF descriptions -> caption policy -> min length -> English (franc-min) -> [merge] exact dedup.
//
// Outputs in --out:
//   parts/part-0000i-of-0000N.jsonl          rows kept by part i (input order), written atomically
//   parts/part-0000i-of-0000N.counters.json  its counters; its presence marks the part finished
//   yfcc15m.jsonl                            all parts merged in input order, de-duplicated
//   report.json / printed table              counts in/out of every stage and drop reasons
//
// SCALE. `--part i/N` runs only part i of N over the input (byte ranges of a plain TSV, or round-robin
// blocks of lines of a compressed one; see src/yfcc/part.ts). A part is idempotent and resumable: a
// finished part (counters file present) is skipped unless --force. Exact dedup needs all parts, so it
// runs in the merge step (`--merge-only`, sequential, Bloom filters of fixed size).
//   One machine:      --parts N --parallel P   spawns N worker processes of this script, P at a time,
//                     then merges. Rerunning after a crash redoes only unfinished parts.
//   Slurm array:      #SBATCH --array=0-63
//                     node pipelines/yfcc15m-filter.ts --metadata M --out O --part ${SLURM_ARRAY_TASK_ID}/64
//                     then one dependent job (sbatch --dependency=afterok:$ARRAY_JOB):
//                     node pipelines/yfcc15m-filter.ts --out O --parts 64 --merge-only
//   Kubernetes:       an Indexed Job (completionMode: Indexed, completions: 64, parallelism: 16) whose
//                     container runs `... --part $(JOB_COMPLETION_INDEX)/64` against a shared volume,
//                     followed by a one-pod Job running `--parts 64 --merge-only`.
// A rerun of a failed array task / pod index redoes only that part.
import { existsSync } from 'node:fs';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPartsInProcesses } from '../src/yfcc/run-parts.ts';
import { numberFlag } from '../src/yfcc/number-flag.ts';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { createContext, runStages, type Stage, type StageContext } from '../stages/core/stage.ts';
import { Counters } from '../src/counters.ts';
import { readLines } from '../stages/yfcc/read-lines.ts';
import { parseMetadata } from '../stages/yfcc/parse-metadata.ts';
import { loadSubsetKeys, subsetJoin } from '../stages/yfcc/subset-join.ts';
import { photosOnly } from '../stages/yfcc/photos-only.ts';
import { cleanTextFields } from '../stages/yfcc/clean-text-fields.ts';
import { rejectCameraTitles } from '../stages/yfcc/reject-camera-titles.ts';
import { rejectExifDescriptions } from '../stages/yfcc/reject-exif-descriptions.ts';
import { captionPolicy } from '../stages/yfcc/caption-policy.ts';
import { minLength } from '../stages/yfcc/min-length.ts';
import { englishOnly } from '../stages/yfcc/english-only.ts';
import { tableRows } from '../stages/yfcc/table-rows.ts';
import { exactDedup } from '../stages/yfcc/exact-dedup.ts';
import { progress } from '../stages/core/progress.ts';
import { writeJsonl } from '../stages/yfcc/write-jsonl.ts';
import { readJsonl } from '../stages/yfcc/read-jsonl.ts';
import { readParquet } from '../stages/yfcc/read-parquet.ts';
import { namedRows, NAMED_FIELD_PRESETS, parseNamedFields } from '../stages/yfcc/named-rows.ts';
import { parseColumnMap } from '../src/yfcc/columns.ts';
import { parseCaptionPolicy, type CaptionPolicy } from '../src/yfcc/caption.ts';
import { parsePart, partName, type Part } from '../src/yfcc/part.ts';
import { buildReport, formatReport, sumCounters, type YfccReport } from '../src/yfcc/report.ts';
import { CLEAN_VERSION } from '../src/yfcc/clean-text.ts';
import type { TableRow } from '../src/yfcc/record.ts';
import type { SubsetKeys } from '../src/yfcc/subset-keys.ts';

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
  langThreshold?: number;
  langMinChars?: number;
  shortText?: 'keep' | 'reject';
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
    ...(options.language === false
      ? []
      : [
          englishOnly({
            threshold: options.langThreshold,
            minChars: options.langMinChars,
            shortText: options.shortText,
          }),
        ]),
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

/** Yield the rows of all parts merged by input position (each part file is already in input order). */
async function* mergeByPosition(paths: string[], ctx: StageContext): AsyncGenerator<TableRow> {
  const iters = paths.map((path) => readJsonl({ path }, ctx)[Symbol.asyncIterator]() as AsyncIterator<TableRow>);
  const heads = await Promise.all(iters.map((it) => it.next()));
  while (true) {
    let best = -1;
    for (let i = 0; i < heads.length; i++)
      if (!heads[i].done && (best < 0 || heads[i].value.pos < heads[best].value.pos)) best = i;
    if (best < 0) return;
    yield heads[best].value;
    heads[best] = await iters[best].next();
  }
}

/** Merge N finished parts: dedup in input order -> yfcc15m.jsonl + report.json. */
export async function mergeParts(
  options: FilterOptions,
  parts: number,
  ctx: StageContext = createContext(),
): Promise<YfccReport> {
  const all = Array.from({ length: parts }, (_, index) => partPaths(options.out, { index, count: parts }));
  const missing = all.filter((p) => !existsSync(p.counters)).map((p) => p.counters);
  if (missing.length)
    throw new Error(
      `yfcc15m-filter: cannot merge, ${missing.length} of ${parts} parts are not finished (first: ${missing[0]})`,
    );
  const partFiles = await Promise.all(
    all.map(
      async (p) =>
        JSON.parse(await readFile(p.counters, 'utf8')) as { cleanVersion: string; counters: Record<string, number> },
    ),
  );
  const stale = partFiles.findIndex((f) => f.cleanVersion !== CLEAN_VERSION);
  if (stale >= 0)
    throw new Error(
      `yfcc15m-filter: part ${stale}/${parts} was cleaned by ${partFiles[stale].cleanVersion}, not ${CLEAN_VERSION}; rerun the parts with --force`,
    );
  const partCounters = partFiles.map((f) => f.counters);
  const dedup = exactDedup({ capacity: options.dedupCapacity, falsePositiveRate: options.dedupFalsePositiveRate });
  const mergeCtx: StageContext = { signal: ctx.signal, counters: new Counters() };
  // Reading the part files is bookkeeping, not a filter stage: count it apart from the report.
  const readCtx: StageContext = { signal: ctx.signal, counters: new Counters() };
  const rows = await runStages(
    mergeCtx,
    mergeByPosition(
      all.map((p) => p.rows),
      readCtx,
    ),
    [progress({ label: 'yfcc merge', quiet: options.quiet }), dedup.stage],
    writeJsonl<TableRow>(join(options.out, 'yfcc15m.jsonl')),
  );
  const merged = sumCounters([...partCounters, mergeCtx.counters.toJSON()]);
  const stats = dedup.stats();
  const report = buildReport(merged, FILTER_STAGES, {
    rows: rows,
    parts,
    'dedup memory (bytes)': stats.bytes,
    'dedup expected false-positive rate (photo hash / caption+url)': `${stats.hashFilterRate.toExponential(2)} / ${stats.captionFilterRate.toExponential(2)}`,
    ...(merged['yfcc.subset-list.keys']
      ? {
          'subset list keys': merged['yfcc.subset-list.keys'],
          'subset keys not found in metadata':
            merged['yfcc.subset-list.keys'] -
            (merged['yfcc.subset.out'] ?? 0) -
            (merged['yfcc.subset.drop.hash-mismatch'] ?? 0),
        }
      : {}),
  });
  report.cleanVersion = CLEAN_VERSION;
  if (options.expectRows !== undefined && (merged['yfcc.read.out'] ?? 0) !== options.expectRows) {
    throw new Error(
      `yfcc15m-filter: expected ${options.expectRows} metadata rows, read ${merged['yfcc.read.out'] ?? 0} (incomplete download or wrong file?)`,
    );
  }
  await writeFile(join(options.out, 'report.json'), JSON.stringify({ ...report, counters: merged }, null, 1));
  return report;
}

/** Run parts i in [0, N) as child processes of this script, `parallel` at a time. */
export async function runPartsInWorkers(argv: string[], parts: number, parallel: number): Promise<void> {
  await runPartsInProcesses({
    script: fileURLToPath(import.meta.url),
    argv,
    parts,
    parallel,
    job: 'yfcc15m-filter',
    retryHint: 'rerun to retry only the unfinished parts',
  });
}

const CLI_OPTIONS = {
  metadata: { type: 'string' },
  subset: { type: 'string' },
  columns: { type: 'string' },
  'metadata-fields': { type: 'string' },
  out: { type: 'string' },
  caption: { type: 'string' },
  'min-words': { type: 'string' },
  'min-chars': { type: 'string' },
  'no-language': { type: 'boolean' },
  'lang-threshold': { type: 'string' },
  'lang-min-chars': { type: 'string' },
  'short-text': { type: 'string' },
  'block-lines': { type: 'string' },
  decompressor: { type: 'string' },
  'dedup-capacity': { type: 'string' },
  'dedup-fp-rate': { type: 'string' },
  part: { type: 'string' },
  parts: { type: 'string' },
  parallel: { type: 'string' },
  'merge-only': { type: 'boolean' },
  'expect-rows': { type: 'string' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

const num = numberFlag;

async function main(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({ args: argv, options: CLI_OPTIONS, strict: true });
  if (!v.out) throw new Error('yfcc15m-filter: --out DIR is required');
  if (v['short-text'] && v['short-text'] !== 'keep' && v['short-text'] !== 'reject')
    throw new Error(`--short-text: expected keep or reject`);
  if (v.decompressor && v.decompressor !== 'system' && v.decompressor !== 'js')
    throw new Error(`--decompressor: expected system or js`);
  const options: FilterOptions = {
    metadata: v.metadata,
    subset: v.subset,
    out: v.out,
    columns: v.columns ? parseColumnMap(v.columns) : undefined,
    metadataFields: v['metadata-fields'] ? parseNamedFields(v['metadata-fields']) : undefined,
    caption: v.caption ? parseCaptionPolicy(v.caption) : undefined,
    minWords: num(v['min-words'], 'min-words'),
    minChars: num(v['min-chars'], 'min-chars'),
    language: !v['no-language'],
    langThreshold: num(v['lang-threshold'], 'lang-threshold'),
    langMinChars: num(v['lang-min-chars'], 'lang-min-chars'),
    shortText: v['short-text'] as 'keep' | 'reject' | undefined,
    blockLines: num(v['block-lines'], 'block-lines'),
    decompressor: v.decompressor as 'system' | 'js' | undefined,
    dedupCapacity: num(v['dedup-capacity'], 'dedup-capacity'),
    dedupFalsePositiveRate: num(v['dedup-fp-rate'], 'dedup-fp-rate'),
    expectRows: num(v['expect-rows'], 'expect-rows'),
    force: v.force,
    quiet: v.quiet,
  };
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const ctx = createContext({ signal: controller.signal });
  if (v.part) {
    const part = parsePart(v.part);
    const r = await runFilterPart(options, part, ctx);
    process.stderr.write(`yfcc15m-filter: ${partName(part)} ${r}\n`);
    return;
  }
  const parts = num(v.parts, 'parts') ?? 1;
  if (!v['merge-only']) {
    const parallel = num(v.parallel, 'parallel') ?? Math.min(parts, cpus().length);
    if (parts === 1) await runFilterPart(options, { index: 0, count: 1 }, ctx);
    else {
      // Forward every option except the part-splitting ones to the workers.
      const forwarded: string[] = [];
      for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--parts' || argv[i] === '--parallel') {
          i++;
          continue;
        }
        if (/^--(parts|parallel)=/.test(argv[i])) continue;
        forwarded.push(argv[i]);
      }
      await runPartsInWorkers(forwarded, parts, parallel);
    }
  }
  const report = await mergeParts(options, parts, ctx);
  console.log(formatReport(report));
  console.log(`wrote ${join(options.out, 'yfcc15m.jsonl')} and ${join(options.out, 'report.json')} (${CLEAN_VERSION})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
