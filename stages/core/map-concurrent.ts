// Ordered concurrent map: up to `concurrency` calls of fn in flight, results yielded in input order.
// The source is pulled only while fewer than `concurrency` results are pending (bounded in-flight work).
import type { Stage } from './stage.ts';
import { throwIfAborted } from './stage.ts';

export function mapConcurrent<A, B>(concurrency: number, fn: (item: A, index: number) => Promise<B> | B): Stage<A, B> {
  if (!(Number.isInteger(concurrency) && concurrency >= 1))
    throw new RangeError(`mapConcurrent: concurrency must be an integer >= 1, got ${concurrency}`);
  return async function* mapConcurrentStage(source, ctx) {
    const pending: Array<Promise<B>> = [];
    let index = 0;
    const iterator = source[Symbol.asyncIterator]();
    let done = false;
    try {
      while (true) {
        while (!done && pending.length < concurrency) {
          throwIfAborted(ctx.signal);
          const next = await iterator.next();
          if (next.done) {
            done = true;
            break;
          }
          const p = Promise.resolve().then(() => fn(next.value, index++));
          p.catch(() => {}); // observed when awaited below; avoid unhandled-rejection noise meanwhile
          pending.push(p);
        }
        if (pending.length === 0) return;
        yield await pending.shift()!;
      }
    } finally {
      if (!done) await iterator.return?.();
      await Promise.allSettled(pending);
    }
  };
}

/** Ordered concurrent map that drops items for which fn returns undefined. */
export function filterMapConcurrent<A, B>(
  concurrency: number,
  fn: (item: A, index: number) => Promise<B | undefined> | B | undefined,
): Stage<A, B> {
  const mapped = mapConcurrent(concurrency, fn);
  return async function* filterMapStage(source, ctx) {
    for await (const item of mapped(source, ctx)) if (item !== undefined) yield item;
  };
}
