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
import { writeSliceShards, type WriteSliceShardsResult } from '../../stages/yfcc/write-slice-shards.ts';
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
