// Keep every n-th item (items 0, n, 2n, ...): an evenly spread, deterministic subsample of an ordered set,
// e.g. a class-sorted evaluation set reduced to --limit images that still covers every class.
import type { Stage } from './stage.ts';

export function everyNth<A>(n: number): Stage<A, A> {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`everyNth: n must be an integer >= 1, got ${n}`);
  return async function* everyNthStage(source) {
    let i = 0;
    for await (const item of source) if (i++ % n === 0) yield item;
  };
}
