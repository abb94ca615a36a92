// Resumability for the shards pipeline. Rows arrive grouped by slice; each slice's rows are held (metadata only, at
// most rowsPerShard of them) until the slice is complete, then its recipe is made: the identity of its rows (a
// SHA-256 of their JSON) and the job's settings (src/yfcc/recipe.ts). A slice whose `_stats.json` says it is final
// and was made by the same recipe is skipped ('yfcc.resume.drop.finished-slice'); one that is not final (retryable
// download failures, or every download failed) is redone ('yfcc.resume.note.incomplete-slice-redone'); one made by
// another recipe is refused with one line, since its shard would no longer match the table. --force redoes all.
// When a slice that is not final is redone with the same recipe, the rows that succeeded then are taken from its
// earlier shard (stages/yfcc/previous-shard.ts) and only the others are fetched again.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Stage } from '../core/stage.ts';
import { shardPath, statsPath, type SliceStats } from './write-slice-shards.ts';
import { openPreviousShard } from './previous-shard.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';
import { recipeDifference, type InputIdentity, type Recipe } from '../../src/yfcc/recipe.ts';

export interface SkipFinishedSlicesOptions {
  out: string;
  /** Every setting that changes a slice's shard. */
  settings: Record<string, unknown>;
  /** The input table (path and modification time are recorded with each slice's rows). */
  input: { path: string; mtime?: string };
  force?: boolean;
}

/** The recipe of one slice from its rows. */
export function sliceRecipe(items: FetchItem[], options: SkipFinishedSlicesOptions): Recipe {
  const hash = createHash('sha256');
  let size = 0;
  for (const item of items) {
    const line = `${item.key}\t${JSON.stringify(item.input.row)}\n`;
    size += Buffer.byteLength(line);
    hash.update(line);
  }
  const rows: InputIdentity = { ...options.input, size, sample: hash.digest('hex') };
  return { job: 'yfcc15m-shards', inputs: { rows }, settings: options.settings };
}

async function readStats(path: string): Promise<SliceStats | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as SliceStats;
  } catch {
    return undefined; // unreadable: redo the slice
  }
}

export function skipFinishedSlices(options: SkipFinishedSlicesOptions): Stage<FetchItem, FetchItem> {
  return async function* skipFinishedStage(source, ctx) {
    let held: FetchItem[] = [];
    async function* decide(items: FetchItem[]): AsyncGenerator<FetchItem> {
      const slice = items[0].slice;
      const recipe = sliceRecipe(items, options);
      ctx.counters.inc('yfcc.resume.in', items.length);
      const path = statsPath(options.out, slice);
      const stats = !options.force && existsSync(path) ? await readStats(path) : undefined;
      if (stats?.final === true) {
        const difference = recipeDifference(stats.recipe, recipe);
        if (difference)
          throw new Error(
            `${path} was made ${difference}; refusing to keep a shard that no longer matches: use another --out, or --force to redo every slice`,
          );
        ctx.counters.inc('yfcc.resume.drop.finished-slice', items.length);
        return;
      }
      const previous =
        stats && !recipeDifference(stats.recipe, recipe)
          ? await openPreviousShard(shardPath(options.out, slice))
          : undefined;
      if (stats) ctx.counters.inc('yfcc.resume.note.incomplete-slice-redone');
      ctx.counters.inc('yfcc.resume.out', items.length);
      for (const item of items) {
        item.sliceRecipe = recipe;
        if (previous?.has(item.key)) item.reuse = () => previous.read(item.key);
        yield item;
      }
    }
    for await (const item of source) {
      if (held.length > 0 && item.slice !== held[0].slice) {
        yield* decide(held);
        held = [];
      }
      held.push(item);
    }
    if (held.length > 0) yield* decide(held);
  };
}
