// The shape shared by the YFCC filter stages: for each record, `decide` returns the record to pass
// on or a drop reason (string); in/out/drop counters follow src/yfcc/report.ts's naming.
import type { Stage } from '../core/stage.ts';
import { stageCounter, dropCounter, noteCounter } from '../../src/yfcc/report.ts';

export function countedFilter<A, B = A>(
  stage: string,
  decide: (item: A, note: (name: string) => void) => B | string,
): Stage<A, B> {
  const inName = stageCounter(stage, 'in'),
    outName = stageCounter(stage, 'out');
  return async function* countedFilterStage(source, ctx) {
    const note = (name: string) => ctx.counters.inc(noteCounter(stage, name));
    for await (const item of source) {
      ctx.counters.inc(inName);
      const r = decide(item, note);
      if (typeof r === 'string') {
        ctx.counters.inc(dropCounter(stage, r));
        continue;
      }
      ctx.counters.inc(outName);
      yield r;
    }
  };
}
