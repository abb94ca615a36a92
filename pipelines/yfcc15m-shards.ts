// Clean caption table + images -> webdataset shards, img2dataset-style.
//
//   node pipelines/yfcc15m-shards.ts --input out/yfcc15m/yfcc15m.jsonl --out shards/ \
//        [--local-template '/data/mmc/data/images/{hash:0:3}/{hash:3:6}/{hash}.jpg']   # local copy, or download:
//        [--concurrency 32 --timeout-ms 10000 --retries 2 --rate-limit 50] [--min-side 200 --max-aspect 3] [--near-dup 4]
//
// Inputs: the clean table (--format table, default), DeCLIP's V2 JSON lines (--format declip), any
// JSONL or parquet (.parquet) with named fields (--format dalle-mini, or --fields id=..,hash=..,url=..,caption=..).
// Stages: read rows -> items (slice + key) -> skip finished slices -> fetch (local/HTTP) -> validate
// (sharp: decode, min side, aspect) -> [near-dup dHash] -> one shard per slice.
// Outputs in --out: NNNNN.tar ({key}.jpg / .json with all kept metadata and scores / .txt caption),
// NNNNN.parquet (every row of the slice with status and error_message, failures included),
// NNNNN_stats.json per shard (img2dataset keys), sizes.json ({"NNNNN.tar": samples}), report.json.
//
// SLICES AND PARTS. Row r of the input belongs to slice floor(r / rowsPerShard), which becomes shard
// NNNNN = slice and key slice*10^d + (r mod rowsPerShard) (d = digits of rowsPerShard), so names never
// depend on which downloads failed or on how the job was split. `--part i/N` processes slices
// s with s mod N = i. A slice is finished when its _stats.json exists (written last, after the
// tar is renamed into place); a rerun skips finished slices, so parts are idempotent and resumable.
//   One machine:  --parts N --parallel P  (N worker processes of this script, P at a time; then sizes.json)
//   Slurm array:  #SBATCH --array=0-99
//                 node pipelines/yfcc15m-shards.ts --input T --out O --part ${SLURM_ARRAY_TASK_ID}/100
//                 then (afterok) node pipelines/yfcc15m-shards.ts --out O --finalize
//   Kubernetes:   Indexed Job (completionMode: Indexed, completions: 100) running
//                 `... --part $(JOB_COMPLETION_INDEX)/100`, then a one-pod Job with `--finalize`.
// Near-duplicate removal (--near-dup) compares images within one process, i.e. within a part; with
// several parts it is not global (exact sha256 and dHash are in every .json for a later global pass).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPartsInProcesses } from '../src/yfcc/run-parts.ts';
import { numberFlag } from '../src/yfcc/number-flag.ts';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { createContext, runStages, type Stage, type StageContext } from '../stages/core/stage.ts';
import { readJsonl } from '../stages/yfcc/read-jsonl.ts';
import { readParquet } from '../stages/yfcc/read-parquet.ts';
import { shardItems } from '../stages/yfcc/shard-items.ts';
import { skipFinishedSlices } from '../stages/yfcc/skip-finished-slices.ts';
import { fetchImages, type FetchImagesOptions } from '../stages/yfcc/fetch-images.ts';
import { validateImages, type ValidateOptions } from '../stages/yfcc/validate-images.ts';
import { removeNearDuplicates } from '../stages/yfcc/remove-near-duplicates.ts';
import { progress } from '../stages/core/progress.ts';
import { writeSliceShards, type SliceStats, type WriteSliceShardsResult } from '../stages/yfcc/write-slice-shards.ts';
import { parseFieldMap, type FieldMap } from '../src/yfcc/shard-input.ts';
import { parsePart, type Part } from '../src/yfcc/part.ts';
import { buildReport, formatReport } from '../src/yfcc/report.ts';

/** Stage order of this run's counters table (src/yfcc/report.ts naming). */
export const SHARDS_STAGES = [
  'read-jsonl',
  'read-parquet',
  'items',
  'resume',
  'fetch',
  'validate',
  'near-dup',
] as const;

export interface ShardsOptions {
  input?: string;
  out: string;
  fields?: FieldMap;
  rowsPerShard?: number;
  fetch?: FetchImagesOptions;
  validate?: ValidateOptions;
  nearDup?: number;
  force?: boolean;
  quiet?: boolean;
}

/** Run one part of the job (all of it with the default part 0/1). */
export async function runShardsPart(
  options: ShardsOptions,
  part: Part = { index: 0, count: 1 },
  ctx: StageContext = createContext(),
): Promise<WriteSliceShardsResult> {
  if (!options.input) throw new Error('yfcc15m-shards: --input is required');
  const rowsPerShard = options.rowsPerShard ?? 10_000;
  const read = options.input.endsWith('.parquet')
    ? readParquet({ path: options.input, part, blockRows: rowsPerShard, indexField: '_row' }, ctx)
    : readJsonl({ path: options.input, part, blockLines: rowsPerShard, split: 'lines', indexField: '_row' }, ctx);
  const stages: Array<Stage<any, any>> = [
    shardItems(options.fields ?? parseFieldMap('table'), rowsPerShard),
    skipFinishedSlices(options.out, options.force),
    progress({ label: `yfcc shards part ${part.index}/${part.count}`, quiet: options.quiet }),
    fetchImages(options.fetch),
    validateImages(options.validate),
    ...(options.nearDup !== undefined ? [removeNearDuplicates(options.nearDup)] : []),
  ];
  return runStages(ctx, read, stages, writeSliceShards(options.out, rowsPerShard));
}

export interface ShardsSummary {
  shards: number;
  slices: number;
  count: number;
  successes: number;
  failed_to_download: number;
  failed_to_validate: number;
  near_duplicates: number;
  status_dict: Record<string, number>;
}

/** Write sizes.json ({"NNNNN.tar": samples} for every non-empty shard) and report.json from the _stats.json files. */
export async function finalizeShards(out: string): Promise<ShardsSummary> {
  const names = (await readdir(out)).filter((n) => /^\d+_stats\.json$/.test(n)).sort();
  const sizes: Record<string, number> = {};
  const summary: ShardsSummary = {
    shards: 0,
    slices: names.length,
    count: 0,
    successes: 0,
    failed_to_download: 0,
    failed_to_validate: 0,
    near_duplicates: 0,
    status_dict: {},
  };
  for (const name of names) {
    const s = JSON.parse(await readFile(join(out, name), 'utf8')) as SliceStats;
    if (s.successes > 0) {
      sizes[name.replace('_stats.json', '.tar')] = s.successes;
      summary.shards++;
    }
    summary.count += s.count;
    summary.successes += s.successes;
    summary.failed_to_download += s.failed_to_download;
    summary.failed_to_validate += s.failed_to_validate;
    summary.near_duplicates += s.near_duplicates;
    for (const [k, v] of Object.entries(s.status_dict)) summary.status_dict[k] = (summary.status_dict[k] ?? 0) + v;
  }
  await writeFile(join(out, 'sizes.json'), JSON.stringify(sizes, null, 1));
  await writeFile(join(out, 'report.json'), JSON.stringify(summary, null, 1));
  return summary;
}

export function formatShardsSummary(s: ShardsSummary): string {
  const lines = [
    `slices ${s.slices}, shards ${s.shards}, rows ${s.count}, written ${s.successes}`,
    `failed_to_download ${s.failed_to_download}, failed_to_validate ${s.failed_to_validate}, near_duplicates ${s.near_duplicates}`,
    ...Object.entries(s.status_dict)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `  ${String(v).padStart(8)}  ${k}`),
  ];
  return lines.join('\n');
}

const CLI_OPTIONS = {
  input: { type: 'string' },
  out: { type: 'string' },
  format: { type: 'string' },
  fields: { type: 'string' },
  'rows-per-shard': { type: 'string' },
  'local-template': { type: 'string' },
  concurrency: { type: 'string' },
  'timeout-ms': { type: 'string' },
  retries: { type: 'string' },
  'backoff-ms': { type: 'string' },
  'rate-limit': { type: 'string' },
  'max-bytes': { type: 'string' },
  'min-side': { type: 'string' },
  'max-aspect': { type: 'string' },
  'near-dup': { type: 'string' },
  part: { type: 'string' },
  parts: { type: 'string' },
  parallel: { type: 'string' },
  finalize: { type: 'boolean' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

const num = numberFlag;

export function shardsOptionsFromArgs(argv: string[]) {
  const { values: v } = parseArgs({ args: argv, options: CLI_OPTIONS, strict: true });
  if (!v.out) throw new Error('yfcc15m-shards: --out DIR is required');
  const options: ShardsOptions = {
    input: v.input,
    out: v.out,
    fields: parseFieldMap(v.format ?? 'table', v.fields),
    rowsPerShard: num(v['rows-per-shard'], 'rows-per-shard'),
    fetch: {
      localTemplate: v['local-template'],
      concurrency: num(v.concurrency, 'concurrency'),
      timeoutMs: num(v['timeout-ms'], 'timeout-ms'),
      retries: num(v.retries, 'retries'),
      backoffMs: num(v['backoff-ms'], 'backoff-ms'),
      rateLimit: num(v['rate-limit'], 'rate-limit'),
      maxBytes: num(v['max-bytes'], 'max-bytes'),
    },
    validate: { minSide: num(v['min-side'], 'min-side'), maxAspect: num(v['max-aspect'], 'max-aspect') },
    nearDup: num(v['near-dup'], 'near-dup'),
    force: v.force,
    quiet: v.quiet,
  };
  return { options, v };
}

async function runWorkers(argv: string[], parts: number, parallel: number): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const forwarded: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--parts' || argv[i] === '--parallel') {
      i++;
      continue;
    }
    if (!/^--(parts|parallel)=/.test(argv[i])) forwarded.push(argv[i]);
  }
  await runPartsInProcesses({
    script,
    argv: forwarded,
    parts,
    parallel,
    job: 'yfcc15m-shards',
    retryHint: 'rerun to redo only unfinished shards',
  });
}

async function main(argv: string[]): Promise<void> {
  const { options, v } = shardsOptionsFromArgs(argv);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const ctx = createContext({ signal: controller.signal });
  const printRun = (label: string) => {
    if (!options.quiet)
      process.stderr.write(`${label}\n${formatReport(buildReport(ctx.counters.toJSON(), SHARDS_STAGES))}\n`);
  };
  if (v.part) {
    const r = await runShardsPart(options, parsePart(v.part), ctx);
    printRun(`yfcc15m-shards: part ${v.part}: ${r.slices} slices, ${r.samples} samples written`);
    return;
  }
  if (!v.finalize) {
    const parts = num(v.parts, 'parts') ?? 1;
    if (parts === 1) {
      const r = await runShardsPart(options, { index: 0, count: 1 }, ctx);
      printRun(`yfcc15m-shards: ${r.slices} slices, ${r.samples} samples written`);
    } else await runWorkers(argv, parts, num(v.parallel, 'parallel') ?? Math.min(parts, cpus().length));
  }
  const summary = await finalizeShards(options.out);
  console.log(formatShardsSummary(summary));
  console.log(`wrote ${join(options.out, 'sizes.json')} and ${join(options.out, 'report.json')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
