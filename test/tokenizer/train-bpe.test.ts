// BPE training: deterministic merges in OpenAI's file format; a vocab trained on captions round-trips them;
// the committed demo vocab is the one fixtures/make-demo-vocab.ts produces from the demo captions.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { trainBpe, formatTrainedVocab } from '../../src/tokenizer/train-bpe.ts';
import { ClipTokenizer, loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { parseMergesFile } from '../../src/tokenizer/vocab-file.ts';
import { readCaptionLines, readTarCaptions } from '../../src/text/caption-file.ts';
import { sharedData } from '../helpers/shared-data.ts';

const fromText = (text: string) => new ClipTokenizer(parseMergesFile(new TextEncoder().encode(text), 'memory'));
const squash = (s: string) => s.replaceAll(' ', '');

test('training on a toy corpus learns the most frequent pairs first, deterministically', (t) => {
  const corpus = ['low lower lowest', 'low low newer newest', 'wider low'];
  const a = trainBpe(corpus, { merges: 5 });
  t.deepEqual(a, trainBpe(corpus, { merges: 5 }));
  t.deepEqual(a.merges[0], ['l', 'o']); // "lo" occurs 6 times
  // then "lo w</w>" and "w e" both occur 4 times: the tie goes to the smaller first id ('w' < the new 'lo')
  t.deepEqual(a.merges[1], ['w', 'e']);
  t.deepEqual(a.merges[2], ['lo', 'w</w>']);
  const file = formatTrainedVocab(a);
  t.regex(file.split('\n')[0], /^#version: 0\.2 .*\(5 merges\)$/);
  t.is(file.split('\n')[1], 'l o');
  const tok = fromText(file);
  t.is(tok.vocabSize, 512 + 5 + 2);
  t.deepEqual(
    tok.encode('low').map((i) => tok.vocab[i]),
    ['low</w>'],
  );
});

test('minFrequency stops training; merge strings stay unique', (t) => {
  const r = trainBpe(['abc abc xyz'], { merges: 100 });
  t.true(r.merges.every(([a, b]) => a + b !== 'xyz</w>')); // xyz occurs once
  const strings = r.merges.map(([a, b]) => a + b);
  t.is(new Set(strings).size, strings.length);
});

test('a vocab trained on Flickr8k captions round-trips them and compresses them', (t) => {
  const captions = readCaptionLines(sharedData('data/flickr8k-1k/captions.txt'));
  const trained = trainBpe(captions, { merges: 1500 });
  t.is(trained.merges.length, 1500);
  const tok = fromText(formatTrainedVocab(trained));
  let ids = 0;
  for (const c of captions) {
    const enc = tok.encode(c);
    ids += enc.length;
    t.is(squash(tok.decode(enc)), squash(tok.clean(c)));
  }
  t.true(ids / captions.length < 16, `mean ids/caption ${ids / captions.length}`); // ~56 chars -> ~13 ids
});

const demoDir = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url));
const demoShards = existsSync(demoDir)
  ? readdirSync(demoDir)
      .filter((f) => /^train-\d+\.tar$/.test(f))
      .sort()
      .map((f) => join(demoDir, f))
  : [];

test('the demo vocab (fixtures/demo/vocab.txt.gz) is trained on the demo captions, round-trips them', async (t) => {
  if (demoShards.length === 0) {
    t.log('no fixtures/demo/train-*.tar: run npm run fixtures');
    t.pass();
    return;
  }
  const captions = await readTarCaptions(demoShards, 'txt');
  t.true(captions.length >= 100);
  const committed = gunzipSync(readFileSync(join(demoDir, 'vocab.txt.gz'))).toString('utf8');
  t.is(committed, formatTrainedVocab(trainBpe(captions, { merges: 1500 }), 'clip-bench demo captions'));
  const tok = await loadTokenizer({ vocabPath: join(demoDir, 'vocab.txt.gz') });
  t.is(tok.mergeCount, committed.trimEnd().split('\n').length - 1);
  for (const c of captions) {
    const enc = tok.encode(c);
    // decode puts a space after every pre-token ("mid-sized" -> "mid - sized "): exact up to that spacing.
    t.is(tok.decode(enc), tok.preTokenize(tok.clean(c)).join(' ') + ' ');
    t.is(squash(tok.decode(enc)), squash(tok.clean(c)));
  }
  t.true(tok.frame(tok.encode(captions[0])).length <= 77);
});
