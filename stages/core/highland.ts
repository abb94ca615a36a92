// highland interop. highland (unmaintained since 2019) is not the backbone, but users who compose
// with it can use its operators as a stage, and use any stage inside a highland chain.
import { Readable } from 'node:stream';
import highland from 'highland';
import type { Stage, StageContext } from './stage.ts';

/** Use a highland chain as a stage: highlandStage(s => s.filter(f).batch(8)). */
export function highlandStage<A, B>(chain: (stream: Highland.Stream<A>) => Highland.Stream<B>): Stage<A, B> {
  return async function* highlandAsStage(source) {
    // highland 2.13 treats async generators as sync iterators: wrap the source in a Readable first.
    const input = highland<A>(Readable.from(source, { objectMode: true }) as unknown as NodeJS.ReadableStream);
    const output = chain(input);
    const readable = output.toNodeStream({ objectMode: true }) as unknown as AsyncIterable<B>;
    yield* readable;
  };
}

/** Use a stage inside a highland chain: stream.through(stageThrough(myStage, ctx)). */
export function stageThrough<A, B>(
  stage: Stage<A, B>,
  ctx: StageContext,
): (stream: Highland.Stream<A>) => Highland.Stream<B> {
  return (stream) => {
    const source = stream.toNodeStream({ objectMode: true }) as unknown as AsyncIterable<A>;
    return highland<B>(Readable.from(stage(source, ctx), { objectMode: true }) as unknown as NodeJS.ReadableStream);
  };
}
