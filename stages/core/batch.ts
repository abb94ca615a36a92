// Group items into arrays of `size`; the last partial batch is kept unless dropLast.
import type { Stage } from './stage.ts';

export function batch<A>(size: number, options: { dropLast?: boolean } = {}): Stage<A, A[]> {
  if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`batch: size must be an integer >= 1, got ${size}`);
  return async function* batchStage(source) {
    let current: A[] = [];
    for await (const item of source) {
      current.push(item);
      if (current.length === size) {
        yield current;
        current = [];
      }
    }
    if (current.length > 0 && !options.dropLast) yield current;
  };
}
