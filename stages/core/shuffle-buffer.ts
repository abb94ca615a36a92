// Seeded shuffle buffer (as webdataset's .shuffle(n)): fill a buffer of `size` items, then for each
// new item yield a uniformly chosen buffered one. Same seed and input, same output order.
import type { Stage } from './stage.ts';
import { Rng } from '../../src/rng.ts';

export function shuffleBuffer<A>(size: number, rng: Rng, options: { initial?: number } = {}): Stage<A, A> {
  if (!(Number.isInteger(size) && size >= 1))
    throw new RangeError(`shuffleBuffer: size must be an integer >= 1, got ${size}`);
  const initial = Math.min(options.initial ?? size, size);
  return async function* shuffleStage(source) {
    const buffer: A[] = [];
    for await (const item of source) {
      buffer.push(item);
      if (buffer.length >= initial) {
        const j = rng.int(buffer.length);
        const chosen = buffer[j];
        buffer[j] = buffer[buffer.length - 1];
        buffer.pop();
        yield chosen;
      }
    }
    while (buffer.length > 0) {
      const j = rng.int(buffer.length);
      const chosen = buffer[j];
      buffer[j] = buffer[buffer.length - 1];
      buffer.pop();
      yield chosen;
    }
  };
}
