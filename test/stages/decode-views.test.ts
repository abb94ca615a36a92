// The decodeViews stage: piscina workers, order, counters for skipped images, reproducibility (worker = main
// thread = rerun), float conversion in the worker or on the main thread, backpressure, and a clean shutdown
// (the process exits by itself after the stage ends, fails or is aborted).
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import { decodeViews, createImagePool, type ImagePool, type WithViews } from '../../stages/image/decode-views.ts';
import { collect, createContext, runStages, type Stage } from '../../stages/core/stage.ts';
import { viewPresets } from '../../src/image/presets.ts';
import { decodeAndApplyViews, byteViewToFloat } from '../../src/image/transform.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { Counters } from '../../src/counters.ts';
import { sharedData } from '../helpers/shared-data.ts';

const dir = sharedData('data/flickr8k-1k/images');
const files = readdirSync(dir).sort().slice(0, 16);
const real = (): WdsSample[] =>
  files.map((f) => ({
    __key__: f.replace(/\.jpg$/, ''),
    __url__: 'flickr-000000.tar',
    jpg: new Uint8Array(readFileSync(`${dir}/${f}`)),
  }));
const views = [viewPresets.mocov2(32), viewPresets.mocov2(32), viewPresets.eval(24)];
const quietContext = () => createContext({ counters: new Counters(() => {}) });

test.serial('decodes N views per sample in order, skips and counts bad or missing images', async (t) => {
  const samples: WdsSample[] = real();
  const jpg = samples[0].jpg as Uint8Array;
  samples.splice(2, 0, { __key__: 'empty', __url__: 'u', jpg: new Uint8Array(0) });
  samples.splice(5, 0, { __key__: 'truncated', __url__: 'u', jpg: jpg.subarray(0, jpg.length >> 1) });
  samples.splice(9, 0, { __key__: 'noimage', __url__: 'u', txt: new TextEncoder().encode('a caption') });
  samples.splice(11, 0, { __key__: 'garbage', __url__: 'u', png: new Uint8Array(50).fill(1) });
  const bomb = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  samples.splice(14, 0, { __key__: 'bomb', __url__: 'u', png: new Uint8Array(bomb) });
  const ctx = quietContext();
  const out = await runStages(
    ctx,
    samples,
    [decodeViews({ views, seed: 5, poolSize: 2, maxPixels: 1_000_000 })],
    collect<WithViews<WdsSample>>(),
  );
  t.deepEqual(
    out.map((s) => s.__key__),
    real().map((s) => s.__key__),
  );
  for (const s of out) {
    t.is(s.views.length, 3);
    t.deepEqual(
      s.views.map((v) => [v.height, v.width, v.data.length]),
      [
        [32, 32, 3072],
        [32, 32, 3072],
        [24, 24, 1728],
      ],
    );
    t.true(s.views[0].data instanceof Float32Array);
    t.is(typeof s.txt === 'undefined' || s.txt instanceof Uint8Array, true);
  }
  t.deepEqual(ctx.counters.toJSON(), {
    images_decoded: 16,
    images_skipped: 5,
    images_skipped_corrupt: 1,
    images_skipped_empty: 1,
    images_skipped_missing: 1,
    'images_skipped_too-large': 1,
    images_skipped_unsupported: 1,
  });
});

test.serial(
  'seeded views are bit-identical across runs, equal to the main-thread path, and float-in-main = float-in-worker',
  async (t) => {
    const pool = createImagePool({ size: 2 });
    try {
      const run = (options: { floatIn?: 'worker' | 'main'; seed?: number; epoch?: number }) =>
        runStages(
          quietContext(),
          real(),
          [decodeViews({ views, seed: options.seed ?? 9, epoch: options.epoch ?? 1, pool, floatIn: options.floatIn })],
          collect<WithViews<WdsSample>>(),
        );
      const a = await run({});
      const b = await run({});
      const m = await run({ floatIn: 'main' });
      t.deepEqual(
        a.map((s) => s.views),
        b.map((s) => s.views),
      );
      t.deepEqual(
        a.map((s) => s.views),
        m.map((s) => s.views),
      );
      const main = await decodeAndApplyViews(real()[3].jpg as Uint8Array, views, {
        seed: 9,
        epoch: 1,
        key: a[3].__key__,
      });
      t.deepEqual(
        a[3].views,
        main.map((v) => byteViewToFloat(v)),
      );
      const otherEpoch = await run({ epoch: 2 });
      t.notDeepEqual(a[0].views[0].data, otherEpoch[0].views[0].data);
      t.deepEqual(a[0].views[2].data, otherEpoch[0].views[2].data, 'the eval view does not depend on the epoch');
      t.notDeepEqual(a[0].views[0].data, a[0].views[1].data, 'two MoCo views of one image differ');
      t.is(pool.piscina.threads.length, 2, 'a pool passed in stays open');
    } finally {
      await pool.close();
    }
    t.is(pool.piscina.threads.length, 0);
  },
);

test.serial('bounded in-flight work: the source is pulled at most maxInFlight ahead of the consumer', async (t) => {
  let pulled = 0;
  async function* source() {
    for (const s of real()) {
      pulled++;
      yield s;
    }
  }
  const ctx = quietContext();
  const stage = decodeViews<WdsSample>({ views: [viewPresets.eval(16)], seed: 1, poolSize: 1, maxInFlight: 3 });
  let consumed = 0,
    maxAhead = 0;
  for await (const _ of stage(source(), ctx)) {
    consumed++;
    maxAhead = Math.max(maxAhead, pulled - consumed);
    await new Promise((r) => setTimeout(r, 5));
  }
  t.is(consumed, 16);
  t.true(maxAhead <= 3, `pulled ${maxAhead} ahead`);
});

test.serial('the stage destroys its own pool when it completes, is aborted, or a later stage fails', async (t) => {
  const bytes = real().map((s) => s.jpg as Uint8Array);
  async function* endless() {
    for (let i = 0; ; i++) yield { __key__: `k${i}`, __url__: 'u', jpg: bytes[i % bytes.length] } as WdsSample;
  }
  for (const mode of ['complete', 'abort', 'error'] as const) {
    const controller = new AbortController();
    const ctx = createContext({ signal: controller.signal, counters: new Counters(() => {}) });
    const pools: ImagePool[] = [];
    let n = 0;
    const downstream: Stage<WdsSample, WdsSample> = async function* (source) {
      for await (const s of source) {
        if (++n === 12 && mode === 'abort') controller.abort();
        if (n === 12 && mode === 'error') throw new Error('downstream failure');
        yield s;
      }
    };
    const run = runStages(
      ctx,
      mode === 'complete' ? real() : endless(),
      [
        decodeViews({ views: [viewPresets.mocov2(48)], seed: 1, poolSize: 2, onPool: (p) => pools.push(p) }),
        downstream,
      ],
      collect(),
    );
    if (mode === 'complete') t.is((await run).length, 16);
    else await t.throwsAsync(run, { message: mode === 'abort' ? /abort/i : /downstream failure/ });
    t.is(pools.length, 1, mode);
    // runStages settles before a failed pipeline's generators have finished closing; allow them 3 s
    for (let i = 0; i < 60 && pools[0].piscina.threads.length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    t.is(pools[0].piscina.threads.length, 0, `${mode}: workers left running`);
  }
});

/** Run a small script in a fresh Node process; resolves with its exit code and time, or fails after 30 s. */
function runChild(script: string): Promise<{ code: number | null; ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child hung (killed after 30 s): ${out}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Date.now() - t0, out });
    });
  });
}

const moduleUrl = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
const childScript = (mode: 'complete' | 'abort' | 'error') => `
  import { readdirSync, readFileSync } from 'node:fs';
  import { decodeViews } from ${moduleUrl('../../stages/image/decode-views.ts')};
  import { runStages, createContext, drain } from ${moduleUrl('../../stages/core/stage.ts')};
  import { viewPresets } from ${moduleUrl('../../src/image/presets.ts')};
  const dir = ${JSON.stringify(dir)};
  const bytes = readdirSync(dir).sort().slice(0, 8).map((f) => new Uint8Array(readFileSync(dir + '/' + f)));
  async function* endless() {
    for (let i = 0; ; i++) yield { __key__: 'k' + i, __url__: 'u', jpg: bytes[i % bytes.length] };
  }
  const controller = new AbortController();
  const ctx = createContext({ signal: controller.signal });
  const mode = ${JSON.stringify(mode)};
  let n = 0;
  const counting = async function* (source) {
    for await (const s of source) {
      if (++n === 12) {
        if (mode === 'abort') controller.abort();
        if (mode === 'error') throw new Error('downstream failure');
      }
      yield s;
    }
  };
  const source = mode === 'complete' ? bytes.map((jpg, i) => ({ __key__: 'k' + i, __url__: 'u', jpg })) : endless();
  try {
    const stages = [decodeViews({ views: [viewPresets.mocov2(64)], seed: 1, poolSize: 2 }), counting];
    const count = await runStages(ctx, source, stages, drain());
    console.log('done', count);
  } catch (err) { console.log('failed', err.name, err.message); }
`;

test('no hang at exit: the process exits by itself after completion, abort and a downstream error', async (t) => {
  const [complete, aborted, failed] = await Promise.all([
    runChild(childScript('complete')),
    runChild(childScript('abort')),
    runChild(childScript('error')),
  ]);
  t.is(complete.code, 0, complete.out);
  t.regex(complete.out, /done 8/);
  t.is(aborted.code, 0, aborted.out);
  t.regex(aborted.out, /failed AbortError/);
  t.is(failed.code, 0, failed.out);
  t.regex(failed.out, /failed Error downstream failure/);
});
