// Stage (data-parallel runs): passes a batch on only when EVERY rank has one and no rank asked to stop, so all ranks
// run the same number of steps and none is left waiting in a collective. One tiny all-reduce per step: each rank
// contributes [has a batch, stop requested]; a rank whose data ended contributes [0, ·] once and the stream ends on
// every rank at the same step (the batch another rank holds is dropped, as dropLast drops a partial batch).
import type { Stage } from '../core/stage.ts';
import type { Collective } from '../../src/distributed/collective.ts';

export function agreeOnSteps<T>(options: {
  world: Collective;
  stopRequested: () => boolean;
  onStop?: (why: 'data' | 'stop') => void;
}): Stage<T, T> {
  const { world } = options;
  return async function* agreeOnSteps(source) {
    const vote = (has: boolean) => world.allreduceSum(new Int32Array([has ? 1 : 0, options.stopRequested() ? 1 : 0]));
    const it = source[Symbol.asyncIterator]();
    try {
      while (true) {
        const next = await it.next();
        const [have, stops] = vote(!next.done);
        if (have < world.size || stops > 0) {
          options.onStop?.(have < world.size ? 'data' : 'stop');
          return;
        }
        yield next.value as T;
      }
    } finally {
      await it.return?.();
    }
  };
}
