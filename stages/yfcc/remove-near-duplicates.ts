// Optional near-duplicate removal on the dHash recorded by the validate stage: an image within
// `maxDistance` bits of an earlier kept image of the same run/part is marked 'near_duplicate'.
// Memory grows with kept images (~100 bytes each); the index is per process, so with --parts the
// check is within a part (documented in run/yfcc/shards-cli.ts).
import type { Stage } from '../core/stage.ts';
import { NearDuplicateIndex } from '../../src/yfcc/dhash.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';

export function removeNearDuplicates(maxDistance = 4): Stage<FetchItem, FetchItem> {
  return async function* nearDupStage(source, ctx) {
    const index = new NearDuplicateIndex(maxDistance);
    for await (const item of source) {
      if (item.status === 'success' && item.dhash) {
        ctx.counters.inc('yfcc.near-dup.in');
        const near = index.findOrAdd(BigInt('0x' + item.dhash));
        if (near !== undefined) {
          item.status = 'near_duplicate';
          item.error = `within ${maxDistance} bits of dHash ${near.toString(16).padStart(16, '0')}`;
          item.reason = `within ${maxDistance} bits of an earlier image`;
          item.bytes = undefined;
          ctx.counters.inc('yfcc.near-dup.drop.near_duplicate');
        } else ctx.counters.inc('yfcc.near-dup.out');
      }
      yield item;
    }
  };
}
