// One part of the YFCC shards job: caption table rows -> slices of rowsPerShard rows -> fetch (local copy or HTTP) ->
// validate -> [near-duplicate removal] -> one webdataset shard per slice, img2dataset-style.
// Row r belongs to slice floor(r / rowsPerShard), which becomes shard NNNNN = slice and key slice*10^d + (r mod
// rowsPerShard) (d = digits of rowsPerShard), so names never depend on which downloads failed or on how the job was
// split; `--part i/N` processes the slices s with s mod N = i.
import { createContext, runStages, type Stage, type StageContext } from '../../stages/core/stage.ts';
import { readJsonl } from '../../stages/yfcc/read-jsonl.ts';
import { readParquet } from '../../stages/yfcc/read-parquet.ts';
import { shardItems } from '../../stages/yfcc/shard-items.ts';
import { skipFinishedSlices } from '../../stages/yfcc/skip-finished-slices.ts';
import { fetchImages, type FetchImagesOptions } from '../../stages/yfcc/fetch-images.ts';
import { validateImages, type ValidateOptions } from '../../stages/yfcc/validate-images.ts';
import { removeNearDuplicates } from '../../stages/yfcc/remove-near-duplicates.ts';
import { progress } from '../../stages/core/progress.ts';
import {
  writeSliceShards,
  type SliceStats,
  type WriteSliceShardsResult,
} from '../../stages/yfcc/write-slice-shards.ts';
import { recipeDifference, type Recipe } from '../../src/yfcc/recipe.ts';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { removeStaleTempFiles } from './stale-temp-files.ts';
import { join } from 'node:path';
import { parseFieldMap, type FieldMap } from '../../src/yfcc/shard-input.ts';
import type { Part } from '../../src/yfcc/part.ts';

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

/** Every setting that changes a slice's shard, with defaults filled in (download tuning such as timeouts only
 * changes which rows fail in a way a rerun may fix, and such slices are redone anyway). */
export function shardsSettings(options: ShardsOptions): Record<string, unknown> {
  return {
    fields: options.fields ?? parseFieldMap('table'),
    rowsPerShard: options.rowsPerShard ?? 10_000,
    source: options.fetch?.localTemplate ? `local copy ${options.fetch.localTemplate}` : 'download',
    maxBytes: options.fetch?.maxBytes ?? 32 << 20,
    minSide: options.validate?.minSide ?? 0,
    maxAspect: options.validate?.maxAspect ?? 'none',
    nearDup: options.nearDup ?? 'off',
  };
}

/**
 * Refuse before any work when a finished slice in `out` was made with other settings (a per-slice check of its rows
 * follows as the input is read, in skipFinishedSlices).
 */
export async function checkFinishedSlices(out: string, settings: Record<string, unknown>): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(out)).filter((n) => /^\d+_stats\.json$/.test(n)).sort();
  } catch {
    return; // no output yet
  }
  const current: Recipe = { job: 'yfcc15m-shards', inputs: {}, settings };
  for (const name of names) {
    let stats: SliceStats;
    try {
      stats = JSON.parse(await readFile(join(out, name), 'utf8')) as SliceStats;
    } catch {
      continue; // unreadable: that slice is redone
    }
    if (stats.final !== true) continue;
    const difference = recipeDifference(stats.recipe && { ...stats.recipe, inputs: {} }, current);
    if (difference)
      throw new Error(
        `${join(out, name)} was made ${difference}; refusing to mix shards: use another --out, or --force to redo every slice`,
      );
  }
}

async function removeUnfinishedTars(out: string, part: Part): Promise<void> {
  let names: string[];
  try {
    names = await readdir(out);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(\d+)\.tar\.partial$/.exec(name);
    if (m && Number(m[1]) % part.count === part.index) await rm(join(out, name), { force: true });
  }
}

/** Run one part of the job (all of it with the default part 0/1). */
export async function runShardsPart(
  options: ShardsOptions,
  part: Part = { index: 0, count: 1 },
  ctx: StageContext = createContext(),
): Promise<WriteSliceShardsResult> {
  if (!options.input) throw new Error('--input is required');
  let mtime: string;
  try {
    mtime = (await stat(options.input)).mtime.toISOString();
  } catch {
    throw new Error(`${options.input}: no such file`);
  }
  const settings = shardsSettings(options);
  if (!options.force) await checkFinishedSlices(options.out, settings);
  // Leftovers of dead processes: their temporary files, and unfinished tars of this part's slices (only this part
  // writes them; each such slice has no final stats, so it is redone).
  await removeStaleTempFiles(options.out);
  await removeUnfinishedTars(options.out, part);
  const rowsPerShard = options.rowsPerShard ?? 10_000;
  const read = options.input.endsWith('.parquet')
    ? readParquet({ path: options.input, part, blockRows: rowsPerShard, indexField: '_row' }, ctx)
    : readJsonl({ path: options.input, part, blockLines: rowsPerShard, split: 'lines', indexField: '_row' }, ctx);
  const stages: Array<Stage<any, any>> = [
    shardItems(options.fields ?? parseFieldMap('table'), rowsPerShard),
    skipFinishedSlices({ out: options.out, settings, input: { path: options.input, mtime }, force: options.force }),
    progress({ label: `yfcc shards part ${part.index}/${part.count}`, quiet: options.quiet }),
    fetchImages(options.fetch),
    validateImages(options.validate),
    ...(options.nearDup !== undefined ? [removeNearDuplicates(options.nearDup)] : []),
  ];
  return runStages(ctx, read, stages, writeSliceShards(options.out, rowsPerShard));
}
