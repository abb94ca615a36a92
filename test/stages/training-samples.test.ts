// stages/train/training-samples.ts: the data source of a training run. Every sample carries the reader position
// after it; continuing from the position of any sample yields exactly the samples that followed it, for a shard
// with repeated keys and for a small single shard read over many epochs (the cases that broke the old cursor).
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { loadTokenizer, type ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { viewPresets } from '../../src/image/presets.ts';
import { Counters } from '../../src/counters.ts';
import { createContext, runStages, collect } from '../../stages/core/stage.ts';
import { readShards } from '../../stages/webdataset/read-shards.ts';
import { writeShards } from '../../stages/webdataset/write-shards.ts';
import { trainingSamples, type TrainingSample } from '../../stages/train/training-samples.ts';
import type { ReaderCursor } from '../../stages/webdataset/read-shards.ts';
import { demoShards, demoVocab } from '../helpers/run-pipeline-child.ts';

let tokenizer: ClipTokenizer;
let dupShard: string;
let smallShard: string;

test.before(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
  tokenizer = await loadTokenizer({ variant: 'declip', vocabPath: demoVocab, contextLength: 16 });
  const dir = mkdtempSync(join(tmpdir(), 'train-samples-'));
  const source: Array<Record<string, unknown>> = [];
  for await (const s of readShards({ shards: demoShards.replace('{000000..000003}', '000000') })) {
    source.push(s);
    if (source.length === 7) break;
  }
  // keys repeat, as in a shard concatenated from two sources: a b a c b d a (each with its own caption)
  const keys = ['a', 'b', 'a', 'c', 'b', 'd', 'a'];
  const dup = source.map((s, i) => ({
    __key__: keys[i],
    __url__: '',
    jpg: s.jpg ?? s.png,
    txt: `caption number ${i}`,
  }));
  await runStages(createContext(), dup, [], writeShards({ pattern: join(dir, 'dup-%03d.tar') }));
  dupShard = join(dir, 'dup-000.tar');
  const small = source
    .slice(0, 5)
    .map((s, i) => ({ __key__: `s${i}`, __url__: '', jpg: s.jpg ?? s.png, txt: `small ${i}` }));
  await runStages(createContext(), small, [], writeShards({ pattern: join(dir, 'small-%03d.tar') }));
  smallShard = join(dir, 'small-000.tar');
});
test.after.always(() => shutdownBackend());

const identity = (s: TrainingSample) =>
  `${s.__key__} ${Buffer.from((s as unknown as { txt: Uint8Array }).txt).toString()} e${s.__cursor__.epoch} ` +
  createHash('sha1').update(new Uint8Array(s.views[0].data.buffer)).digest('hex').slice(0, 12);

async function read(shards: string[], n: number, from?: ReaderCursor): Promise<TrainingSample[]> {
  const ctx = createContext({ counters: new Counters(() => {}) });
  const source = trainingSamples({
    shards,
    seed: 3,
    epochs: 'endless',
    from,
    imageViews: [viewPresets.clip(32)],
    textViews: ['raw'],
    tokenizer,
    captionExtension: 'txt',
    decodeConcurrency: 2,
  })(ctx);
  const out: TrainingSample[] = [];
  for await (const s of source) {
    out.push(s);
    if (out.length === n) break;
  }
  return out;
}

for (const [name, shards] of [
  ['repeated keys in a shard', () => [dupShard]],
  ['a 5-sample shard over many epochs', () => [smallShard]],
] as const) {
  test(`cursor exact after any sample: ${name}`, async (t) => {
    const n = 23;
    const all = await read(shards(), n);
    const ids = all.map(identity);
    t.true(new Set(all.map((s) => s.__cursor__.epoch)).size >= 3, 'several epochs');
    for (const k of [0, 1, 2, 4, 5, 6, 7, 11, 14]) {
      const rest = await read(shards(), n - k - 1, all[k].__cursor__);
      t.deepEqual(rest.map(identity), ids.slice(k + 1), `continuing after sample ${k}`);
    }
  });
}

test('a stop ends the stream without an error', async (t) => {
  const stop = new AbortController();
  const ctx = createContext({ counters: new Counters(() => {}) });
  const source = trainingSamples({
    shards: [smallShard],
    seed: 0,
    epochs: 'endless',
    imageViews: [viewPresets.clip(32)],
    textViews: ['raw'],
    tokenizer,
    captionExtension: 'txt',
    decodeConcurrency: 2,
    stop: stop.signal,
  })(ctx);
  let n = 0;
  for await (const _ of source) if (++n === 8) stop.abort();
  t.true(n >= 8 && n < 20, `${n} samples`);
});

test('no usable sample in two epochs in a row is a NoDataError (exit code 3)', async (t) => {
  const ctx = createContext({ counters: new Counters(() => {}) });
  const source = trainingSamples({
    shards: [smallShard],
    seed: 0,
    epochs: 'endless',
    imageViews: [viewPresets.clip(32)],
    textViews: ['raw'],
    tokenizer,
    captionExtension: 'nope',
    decodeConcurrency: 2,
  })(ctx);
  const err = await t.throwsAsync(runStages(ctx, source, [], collect()));
  t.is(err!.name, 'NoDataError');
  t.is((err as Error & { exitCode: number }).exitCode, 3);
});
