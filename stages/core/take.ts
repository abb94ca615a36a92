// Yield the first n items, then stop pulling (the source is closed, so upstream work stops too).
import type { Stage } from './stage.ts';

export function take<A>(n: number): Stage<A, A> {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`take: n must be an integer >= 0, got ${n}`);
  return async function* takeStage(source) {
    if (n === 0) return;
    let count = 0;
    for await (const item of source) {
      yield item;
      if (++count >= n) return;
    }
  };
}
