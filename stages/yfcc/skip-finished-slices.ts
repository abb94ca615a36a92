// Resumability for the shards pipeline: drop the rows of slices whose `_stats.json` already exists
// (finished by an earlier run or another worker), counting them as 'yfcc.resume.drop.finished-slice'.
import { existsSync } from 'node:fs';
import type { Stage } from '../core/stage.ts';
import { statsPath } from './write-slice-shards.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';

export function skipFinishedSlices(out: string, force = false): Stage<FetchItem, FetchItem> {
  return async function* skipFinishedStage(source, ctx) {
    let lastSlice = -1,
      lastDone = false;
    for await (const item of source) {
      if (item.slice !== lastSlice) {
        lastSlice = item.slice;
        lastDone = !force && existsSync(statsPath(out, item.slice));
      }
      ctx.counters.inc('yfcc.resume.in');
      if (lastDone) {
        ctx.counters.inc('yfcc.resume.drop.finished-slice');
        continue;
      }
      ctx.counters.inc('yfcc.resume.out');
      yield item;
    }
  };
}
