// Turn input rows into FetchItems: normalise fields (src/yfcc/shard-input.ts) and assign the slice
// (= shard number) and the img2dataset-style key from the row's position in the input.
import type { Stage } from '../core/stage.ts';
import { toShardInput, type FieldMap } from '../../src/yfcc/shard-input.ts';
import { sampleKey } from '../../src/yfcc/shard-key.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';

/** `indexField` holds the row's position in the input table (set by the reader; removed here). */
export function shardItems(
  fields: FieldMap,
  rowsPerShard: number,
  indexField = '_row',
): Stage<Record<string, unknown>, FetchItem> {
  return async function* shardItemsStage(source, ctx) {
    for await (const row of source) {
      const pos = Number(row[indexField]);
      delete row[indexField];
      const input = toShardInput(row, pos, fields);
      ctx.counters.inc('yfcc.items.in');
      if (!input.url && !input.hash) {
        ctx.counters.inc('yfcc.items.drop.no-url-or-hash');
        continue;
      }
      ctx.counters.inc('yfcc.items.out');
      const slice = Math.floor(pos / rowsPerShard),
        index = pos % rowsPerShard;
      yield { slice, index, key: sampleKey(slice, index, rowsPerShard), input, status: 'success' };
    }
  };
}
