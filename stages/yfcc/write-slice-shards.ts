// Sink: one webdataset shard per input slice, img2dataset-style. Items arrive in order, grouped by slice; the
// successful ones of slice s are written by writeShards() to `<out>/<s:05d>.tar` ({key}.jpg, {key}.json, {key}.txt;
// written as .partial and renamed), then `<out>/<s:05d>.parquet` (one row per input row, failures included: key,
// status, error_message, url, caption, width, height, sha256, dhash, id, hash), then `<out>/<s:05d>_stats.json`
// (img2dataset's count, successes, failed_to_download, failed_to_resize, duration, start_time, end_time,
// status_dict, and ours: failed_to_validate, near_duplicates, final, retryable_failures, incomplete_reason, recipe).
// status_dict counts each status with its reason as the fetch or validate stage wrote it ("failed_to_download: HTTP
// 503 Service Unavailable"). The stats file is written last. A slice is final when no failure may go away on a rerun
// and not every download failed (a source that is down, or a wrong local copy, fails every row); a rerun redoes a
// slice that is not final and skips one that is (stages/yfcc/skip-finished-slices.ts).
import { writeFile, rename, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sink, StageContext } from '../core/stage.ts';
import { writeShards } from '../webdataset/write-shards.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';
import { shardName } from '../../src/yfcc/shard-key.ts';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Recipe } from '../../src/yfcc/recipe.ts';
import { tempPath } from '../../src/yfcc/temp-path.ts';

export interface SliceStats {
  count: number;
  successes: number;
  failed_to_download: number;
  failed_to_resize: number;
  failed_to_validate: number;
  near_duplicates: number;
  duration: number;
  start_time: number;
  end_time: number;
  status_dict: Record<string, number>;
  /** Nothing left to retry: a rerun skips the slice. */
  final: boolean;
  /** Rows whose failure may go away on a rerun (network errors, timeouts, 5xx, 429). */
  retryable_failures: number;
  /** Why the slice is not final. */
  incomplete_reason?: string;
  recipe?: Recipe;
}

/** Whether a slice is final, and why not. */
export function sliceFinality(stats: SliceStats): { final: boolean; reason?: string } {
  if (stats.retryable_failures > 0)
    return {
      final: false,
      reason: `${stats.retryable_failures} of ${stats.count} rows failed in a way a rerun may fix`,
    };
  if (stats.count > 0 && stats.failed_to_download === stats.count)
    return { final: false, reason: `every download of its ${stats.count} rows failed` };
  return { final: true };
}

export function parquetPath(out: string, slice: number): string {
  return join(out, `${shardName(slice)}.parquet`);
}

/** Per-shard metadata table of every row (img2dataset writes the same next to its tars). */
function sliceParquet(rows: FetchItem[]): Uint8Array {
  const col = <T>(f: (r: FetchItem) => T) => rows.map(f);
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'key', data: col((r) => r.key), type: 'STRING' },
        { name: 'status', data: col((r) => r.status), type: 'STRING' },
        { name: 'error_message', data: col((r) => r.error ?? null), type: 'STRING' },
        { name: 'url', data: col((r) => r.input.url), type: 'STRING' },
        { name: 'caption', data: col((r) => r.input.caption), type: 'STRING' },
        { name: 'id', data: col((r) => r.input.id), type: 'STRING' },
        { name: 'hash', data: col((r) => r.input.hash), type: 'STRING' },
        { name: 'width', data: col((r) => r.width ?? null), type: 'INT32' },
        { name: 'height', data: col((r) => r.height ?? null), type: 'INT32' },
        { name: 'sha256', data: col((r) => r.sha256 ?? null), type: 'STRING' },
        { name: 'dhash', data: col((r) => r.dhash ?? null), type: 'STRING' },
      ],
    }),
  );
}

export function statsPath(out: string, slice: number): string {
  return join(out, `${shardName(slice)}_stats.json`);
}
export function shardPath(out: string, slice: number): string {
  return join(out, `${shardName(slice)}.tar`);
}

/** The sample written for a successful item: jpg bytes, caption text, and all kept metadata. */
export function toSample(item: FetchItem, extraJson: Record<string, unknown> = {}): WdsSample {
  const json = {
    key: item.key,
    ...item.input.row,
    caption: item.input.caption,
    url: item.input.url,
    source: item.source,
    status: item.status,
    width: item.width,
    height: item.height,
    original_format: item.format,
    reencoded: item.reencoded ?? false,
    sha256: item.sha256,
    dhash: item.dhash,
    attempts: item.attempts,
    ...extraJson,
  };
  return {
    __key__: item.key,
    __url__: '',
    jpg: item.bytes!,
    txt: new TextEncoder().encode(item.input.caption),
    json: new TextEncoder().encode(JSON.stringify(json)),
  };
}

export interface WriteSliceShardsResult {
  slices: number;
  samples: number;
  shards: string[];
  /** Slices written but not final (a rerun retries them). */
  incomplete: number[];
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPath(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function writeSliceShards(out: string, rowsPerShard: number): Sink<FetchItem, WriteSliceShardsResult> {
  return async (source, ctx: StageContext) => {
    await mkdir(out, { recursive: true });
    const iterator = source[Symbol.asyncIterator]();
    let pending = await iterator.next();
    const result: WriteSliceShardsResult = { slices: 0, samples: 0, shards: [], incomplete: [] };
    while (!pending.done) {
      const slice = pending.value.slice;
      const t0 = Date.now();
      const stats: SliceStats = {
        count: 0,
        successes: 0,
        failed_to_download: 0,
        failed_to_resize: 0,
        failed_to_validate: 0,
        near_duplicates: 0,
        duration: 0,
        start_time: t0 / 1000,
        end_time: 0,
        status_dict: {},
        final: false,
        retryable_failures: 0,
      };
      let recipe: Recipe | undefined;
      const rows: FetchItem[] = [];
      // Pull this slice's items; hand the successful ones to writeShards as they come.
      async function* successes(): AsyncGenerator<WdsSample> {
        while (!pending.done && pending.value.slice === slice) {
          const item = pending.value;
          rows.push(item);
          recipe ??= item.sliceRecipe;
          stats.count++;
          if (item.retryable) stats.retryable_failures++;
          if (item.status === 'failed_to_download') stats.failed_to_download++;
          else if (item.status === 'failed_to_validate') stats.failed_to_validate++;
          else if (item.status === 'near_duplicate') stats.near_duplicates++;
          // status_dict: 'success', or the status with the failure's reason (its message without row details).
          const why = item.reason ?? item.error;
          const kind = why ? `${item.status}: ${why}` : item.status;
          stats.status_dict[kind] = (stats.status_dict[kind] ?? 0) + 1;
          if (item.status === 'success') {
            stats.successes++;
            yield toSample(item);
          }
          item.bytes = undefined; // written; keep only the metadata for the parquet
          pending = await iterator.next();
        }
      }
      let written;
      try {
        written = await writeShards({
          pattern: join(out, '%05d.tar'),
          startIndex: slice,
          maxCount: rowsPerShard,
          maxSize: Number.MAX_SAFE_INTEGER,
        })(successes(), ctx);
      } catch (err) {
        await rm(shardPath(out, slice) + '.partial', { force: true }); // the writer's unfinished tar
        throw err;
      }
      // A slice with no good image has no tar; remove one left by an earlier run.
      if (written.shards.length === 0) await rm(shardPath(out, slice), { force: true });
      if (written.shards.length > 1)
        throw new Error(
          `yfcc shards: slice ${slice} produced ${written.shards.length} shards; rowsPerShard must bound a slice`,
        );
      stats.end_time = Date.now() / 1000;
      stats.duration = stats.end_time - stats.start_time;
      const finality = sliceFinality(stats);
      stats.final = finality.final;
      if (finality.reason) stats.incomplete_reason = finality.reason;
      stats.recipe = recipe;
      await writeAtomically(parquetPath(out, slice), sliceParquet(rows));
      // Written last: a rerun trusts a slice only through its stats.
      await writeAtomically(statsPath(out, slice), JSON.stringify(stats, null, 1));
      if (!stats.final) {
        ctx.counters.inc('yfcc.shards.incomplete-slices');
        result.incomplete.push(slice);
      }
      ctx.counters.inc('yfcc.shards.slices');
      result.slices++;
      result.samples += written.samples;
      result.shards.push(...written.shards);
    }
    return result;
  };
}
