import test from 'ava';
import highland from 'highland';
import { Readable } from 'node:stream';
import { runStages, createContext, collect, compose } from '../../stages/core/stage.ts';
import { mapConcurrent } from '../../stages/core/map-concurrent.ts';
import { batch } from '../../stages/core/batch.ts';
import { shuffleBuffer } from '../../stages/core/shuffle-buffer.ts';
import { take } from '../../stages/core/take.ts';
import { tap } from '../../stages/core/tap.ts';
import { highlandStage, stageThrough } from '../../stages/core/highland.ts';
import { Rng, deriveRng } from '../../src/rng.ts';

async function* range(n: number, pulled?: { count: number }) {
  for (let i = 0; i < n; i++) {
    if (pulled) pulled.count++;
    yield i;
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('mapConcurrent keeps order, runs in parallel and bounds in-flight work', async (t) => {
  let inFlight = 0,
    maxInFlight = 0;
  const pulled = { count: 0 };
  const ctx = createContext();
  const out = await runStages(
    ctx,
    range(20, pulled),
    [
      mapConcurrent(4, async (x: number) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep((20 - x) % 5);
        inFlight--;
        return x * 2;
      }),
    ],
    collect<number>(),
  );
  t.deepEqual(
    out,
    Array.from({ length: 20 }, (_, i) => i * 2),
  );
  t.is(maxInFlight, 4);
});

test('backpressure: take(3) stops pulling the source', async (t) => {
  const pulled = { count: 0 };
  const out = await runStages(
    createContext(),
    range(1_000_000, pulled),
    [mapConcurrent(2, (x: number) => x), take(3)],
    collect<number>(),
  );
  t.deepEqual(out, [0, 1, 2]);
  t.true(pulled.count <= 6, `source pulled ${pulled.count} items`);
});

test('errors propagate from any stage and abort cancels the run', async (t) => {
  const failing = tap<number>((x) => {
    if (x === 5) throw new Error('boom at 5');
  });
  await t.throwsAsync(runStages(createContext(), range(10), [failing], collect()), { message: 'boom at 5' });
  const controller = new AbortController();
  const ctx = createContext({ signal: controller.signal });
  async function* endless() {
    let i = 0;
    while (true) {
      await sleep(1);
      yield i++;
    }
  }
  const run = runStages(
    ctx,
    endless(),
    [
      tap<number>((x) => {
        if (x === 10) controller.abort();
      }),
    ],
    collect(),
  );
  await t.throwsAsync(run, { name: 'AbortError' });
});

test('batch and compose', async (t) => {
  const out = await runStages(
    createContext(),
    range(7),
    [
      compose(
        tap(() => {}),
        batch(3),
      ),
    ],
    collect<number[]>(),
  );
  t.deepEqual(out, [[0, 1, 2], [3, 4, 5], [6]]);
  const dropped = await runStages(createContext(), range(7), [batch(3, { dropLast: true })], collect<number[]>());
  t.deepEqual(dropped, [
    [0, 1, 2],
    [3, 4, 5],
  ]);
});

test('shuffleBuffer: same seed same order, a permutation of the input', async (t) => {
  const a = await runStages(createContext(), range(100), [shuffleBuffer(10, new Rng(7))], collect<number>());
  const b = await runStages(createContext(), range(100), [shuffleBuffer(10, new Rng(7))], collect<number>());
  const c = await runStages(createContext(), range(100), [shuffleBuffer(10, new Rng(8))], collect<number>());
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
  t.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 100 }, (_, i) => i),
  );
  t.notDeepEqual(
    a,
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('highland interop: a highland chain as a stage, and a stage inside highland', async (t) => {
  const viaHighland = await runStages(
    createContext(),
    range(10),
    [highlandStage<number, number[]>((s) => s.filter((x) => x % 2 === 0).batch(2))],
    collect<number[]>(),
  );
  t.deepEqual(viaHighland, [[0, 2], [4, 6], [8]]);
  const ctx = createContext();
  const result = await highland<number>(Readable.from([1, 2, 3]) as unknown as NodeJS.ReadableStream)
    .through(
      stageThrough(
        mapConcurrent(2, async (x: number) => x * 10),
        ctx,
      ),
    )
    .collect()
    .toPromise(Promise);
  t.deepEqual(result, [10, 20, 30]);
});

test('rng: deterministic, derived streams differ, state round-trips', (t) => {
  const a = deriveRng(1, 0, 'key', 0),
    b = deriveRng(1, 0, 'key', 0),
    c = deriveRng(1, 0, 'key', 1);
  const xs = Array.from({ length: 5 }, () => a.nextUint32());
  t.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.nextUint32()),
  );
  t.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => c.nextUint32()),
  );
  const r = new Rng(3);
  r.random();
  const s = r.getState();
  const next = r.random();
  r.setState(s);
  t.is(r.random(), next);
  let sum = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) sum += r.random();
  t.true(Math.abs(sum / n - 0.5) < 0.01);
});
