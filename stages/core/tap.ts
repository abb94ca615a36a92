// Call fn for every item (logging, counting, progress) and pass the item on unchanged.
import type { Stage, StageContext } from './stage.ts';

export function tap<A>(fn: (item: A, ctx: StageContext) => void | Promise<void>): Stage<A, A> {
  return async function* tapStage(source, ctx) {
    for await (const item of source) {
      await fn(item, ctx);
      yield item;
    }
  };
}
