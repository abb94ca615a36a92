// The tokenize stage: raw/eda/mlm views from the caption member, seeded per (seed, epoch, key, view), one line
// per epoch for multi-line captions, samples without captions skipped and counted.
import test from 'ava';
import { collect, createContext, runStages } from '../../stages/core/stage.ts';
import { tokenizeViews } from '../../stages/text/tokenize-views.ts';
import { loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { Counters } from '../../src/counters.ts';
import { IGNORE_INDEX } from '../../src/text/mlm.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { sharedData } from '../helpers/shared-data.ts';

const tokenizer = await loadTokenizer({
  vocabPath: sharedData('data/clip/bpe_simple_vocab_16e6.txt.gz'),
  variant: 'declip',
});
const enc = new TextEncoder();
const sample = (key: string, caption?: string): WdsSample =>
  caption === undefined
    ? { __key__: key, __url__: 'mem.tar', jpg: new Uint8Array(1) }
    : { __key__: key, __url__: 'mem.tar', txt: enc.encode(caption) };
const captions = [
  'A child in a pink dress is climbing up a set of stairs in an entry way .',
  'A black dog and a spotted dog are fighting',
  'A little girl covered in paint sits in front of a painted rainbow with her hands in a bowl .',
];

async function run(
  samples: WdsSample[],
  options: Partial<Parameters<typeof tokenizeViews>[0]> = {},
  ctx = createContext(),
) {
  const out = await runStages(
    ctx,
    samples,
    [tokenizeViews({ tokenizer, views: ['raw', 'eda', 'mlm'], seed: 5, ...options })],
    collect<any>(),
  );
  return { out, ctx };
}

test('raw, eda and mlm views: lengths, framing, labels', async (t) => {
  const { out, ctx } = await run(captions.map((c, i) => sample(`k${i}`, c)));
  t.is(out.length, 3);
  t.is(ctx.counters.get('tokenize.samples'), 3);
  out.forEach((s, i) => {
    t.is(s.__key__, `k${i}`);
    t.deepEqual(s.text.raw, tokenizer.encodeFramed(captions[i]));
    for (const v of ['raw', 'eda', 'mlm', 'mlmLabels']) t.is(s.text[v].length, 77, v);
    t.is(s.text.eda[0], tokenizer.sot);
    t.true(s.text.eda.includes(tokenizer.eot));
    for (let j = 0; j < 77; j++) {
      if (s.text.mlmLabels[j] === IGNORE_INDEX) t.is(s.text.mlm[j], s.text.raw[j]);
      else t.is(s.text.mlmLabels[j], s.text.raw[j]);
    }
  });
});

test('views are reproducible for (seed, epoch, key) and change with the epoch and seed', async (t) => {
  const samples = Array.from({ length: 40 }, (_, i) => sample(`s${i}`, captions[i % 3]));
  const a = (await run(samples, { epoch: 1 })).out;
  const b = (await run(samples, { epoch: 1 })).out;
  const c = (await run(samples, { epoch: 2 })).out;
  const d = (await run(samples, { epoch: 1, seed: 6 })).out;
  t.deepEqual(
    a.map((s) => s.text),
    b.map((s) => s.text),
  );
  const differs = (x: any[], y: any[], v: string) =>
    x.filter((s, i) => String(s.text[v]) !== String(y[i].text[v])).length;
  t.true(differs(a, c, 'mlm') > 20 && differs(a, c, 'eda') > 10);
  t.true(differs(a, d, 'mlm') > 20);
  t.is(differs(a, c, 'raw'), 0);
});

test('multi-line captions: one line per epoch, seeded; every line gets used', async (t) => {
  const multi = sample('multi', captions.join('\n') + '\n');
  const chosen = new Set<string>();
  for (let epoch = 0; epoch < 30; epoch++) {
    const [s] = (await run([multi], { epoch, views: ['raw'] })).out;
    const [again] = (await run([multi], { epoch, views: ['raw'] })).out;
    t.deepEqual(s.text.raw, again.text.raw);
    const i = captions.findIndex((c) => String(tokenizer.encodeFramed(c)) === String(s.text.raw));
    t.true(i >= 0);
    chosen.add(captions[i]);
  }
  t.is(chosen.size, 3);
});

test('missing or blank captions are skipped and counted; mlm needs the declip variant', async (t) => {
  const warnings: string[] = [];
  const counters = new Counters((m) => warnings.push(m));
  const { out } = await run(
    [sample('a'), sample('b', ' \n '), sample('c', 'a dog')],
    { views: ['raw'] },
    createContext({ counters }),
  );
  t.deepEqual(
    out.map((s) => s.__key__),
    ['c'],
  );
  t.is(counters.get('tokenize.missingCaption'), 2);
  t.is(warnings.length, 1); // warned once
  t.regex(warnings[0], /sample a of mem\.tar has no "txt" caption/);
  const openai = await loadTokenizer({ vocabPath: sharedData('data/clip/bpe_simple_vocab_16e6.txt.gz') });
  t.throws(() => tokenizeViews({ tokenizer: openai, views: ['mlm'], seed: 0 }), {
    message: /needs the declip tokenizer variant/,
  });
  t.throws(() => tokenizeViews({ tokenizer, views: ['bogus' as any], seed: 0 }), {
    message: /unknown text view "bogus"/,
  });
});
