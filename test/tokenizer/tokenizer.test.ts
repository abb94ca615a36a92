// CLIP BPE tokenizer parity: the 39 verified vectors, extra cases produced by reference/clip_tokenizer_reference.py,
// a digest over 5,000 Flickr8k captions, truncation/padding/batch framing, declip ids, and vocab-loading errors.
import test from 'ava';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadTokenizer, ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { parseMergesFile, readMergesFile } from '../../src/tokenizer/vocab-file.ts';
import { BYTE_ORDER, BYTE_TO_UNICODE } from '../../src/tokenizer/bytes-to-unicode.ts';
import { preTokenPattern, preTokenize } from '../../src/tokenizer/pre-tokenize.ts';
import { cleanText, fixText } from '../../src/tokenizer/clean-text.ts';
import { deriveRng } from '../../src/rng.ts';
import { readCaptionLines } from '../../src/text/caption-file.ts';
import { sharedData } from '../helpers/shared-data.ts';

const vocabPath = sharedData('data/clip/bpe_simple_vocab_16e6.txt.gz');
const openai = await loadTokenizer({ vocabPath });
const declip = await loadTokenizer({ vocabPath, variant: 'declip' });

interface ExtraCase {
  name: string;
  text: string;
  variant?: 'openai' | 'declip';
  context?: number;
  ids: number[];
  bpe: number[];
  decoded: string;
}
const extra: { ftfy: boolean; cases: ExtraCase[] } = JSON.parse(
  readFileSync(new URL('../../fixtures/parity/tokenizer/extra-cases.json', import.meta.url), 'utf8'),
);

test('vocabulary layout: 256 bytes, 256 bytes</w>, 48,894 merges, specials', (t) => {
  t.is(openai.vocabSize, 49408);
  t.is(openai.mergeCount, 48894);
  t.deepEqual([openai.sot, openai.eot, openai.mask], [49406, 49407, undefined]);
  t.deepEqual([declip.mask, declip.sot, declip.eot, declip.vocabSize], [49406, 49407, 49408, 49409]);
  t.is(openai.vocab[0], '!');
  t.is(openai.vocab[256], '!</w>');
  t.is(openai.vocab[188], 'Ā'); // byte 0, the first non-printable byte
  t.is(BYTE_TO_UNICODE[BYTE_ORDER[188]], 'Ā');
  t.is(openai.vocab[49405], 'jekyll</w>'); // last merge in use
  t.is(openai.contextLength, 77);
});

test('all 39 verified vectors match exactly', (t) => {
  const cases: Array<{ text: string; ids: number[] }> = JSON.parse(
    readFileSync(sharedData('data/clip/tokenizer-vectors.json'), 'utf8'),
  );
  t.is(cases.length, 39);
  for (const c of cases) t.deepEqual([openai.sot, ...openai.encode(c.text), openai.eot], c.ids, JSON.stringify(c.text));
});

test('extra cases match the Python reference (framing, truncation, specials, scripts, emoji, declip)', (t) => {
  t.true(extra.cases.length >= 40);
  for (const c of extra.cases) {
    const tok = c.variant === 'declip' ? declip : openai;
    const ctx = c.context ?? 77;
    const framedTok =
      ctx === 77
        ? tok
        : new ClipTokenizer(parseMergesFile(readFileSync(vocabPath), vocabPath), {
            variant: c.variant,
            contextLength: ctx,
          });
    t.deepEqual(tok.encode(c.text), c.bpe, `bpe ${c.name}`);
    t.deepEqual(Array.from(framedTok.encodeFramed(c.text).slice(0, c.ids.length)), c.ids, `framed ${c.name}`);
    t.is(tok.decode(c.bpe), c.decoded, `decode ${c.name}`);
  }
});

test('5,000 Flickr8k captions: sha256 of framed ids equals the Python reference digest (openai and declip)', (t) => {
  const digest = JSON.parse(
    readFileSync(new URL('../../fixtures/parity/tokenizer/flickr8k-1k-digest.json', import.meta.url), 'utf8'),
  );
  const captions = readCaptionLines(sharedData('data/flickr8k-1k/captions.txt'));
  t.is(captions.length, digest.lines);
  for (const [name, tok] of [
    ['openai', openai],
    ['declip', declip],
  ] as const) {
    const h = createHash('sha256');
    for (const c of captions) h.update(JSON.stringify(tok.frame(tok.encode(c))) + '\n');
    t.is(h.digest('hex'), digest[name], name);
  }
});

test('encodeFramed pads with 0; truncation keeps SOT + 75 + EOT; error policy throws', async (t) => {
  const short = openai.encodeFramed('a photo of a cat');
  t.deepEqual(Array.from(short.slice(0, 7)), [49406, 320, 1125, 539, 320, 2368, 49407]);
  t.true(short.slice(7).every((v) => v === 0));
  t.is(short.length, 77);
  const long = openai.encodeFramed('dog '.repeat(200));
  t.is(long[0], 49406);
  t.is(long[76], 49407);
  t.true(long.slice(1, 76).every((v) => v === 1929));
  const strict = await loadTokenizer({ vocabPath, truncation: 'error' });
  t.throws(() => strict.encodeFramed('dog '.repeat(76)), { message: /78 tokens, longer than the context length 77/ });
  t.notThrows(() => strict.encodeFramed('dog '.repeat(75)));
  const empty = openai.encodeFramed('');
  t.deepEqual(Array.from(empty.slice(0, 3)), [49406, 49407, 0]);
});

test('encodeBatch is row-major [n, ctx] and equals per-text framing', (t) => {
  const texts = ['a dog', '', 'two cats on a sofa'];
  const batch = openai.encodeBatch(texts);
  t.is(batch.length, 3 * 77);
  texts.forEach((s, i) => t.deepEqual(batch.slice(i * 77, (i + 1) * 77), openai.encodeFramed(s)));
});

test('decode inverts encode up to pre-token spacing; special ids decode to their names', (t) => {
  t.is(openai.decode(openai.encode('Hello, World! café 😀 生活')), 'hello , world ! café 😀 生活 ');
  t.is(declip.decode([declip.mask!, declip.sot, declip.eot]), '<|mask|><|startoftext|><|endoftext|>');
  t.throws(() => openai.decode([49408]), { message: /outside the vocabulary/ });
});

test('cleaning: mojibake repair, html unescape twice, whitespace, NFC', (t) => {
  t.deepEqual(openai.encode('cafÃ© Ã¼ber'), openai.encode('café über'));
  t.deepEqual(openai.encode('donâ€™t'), openai.encode('don\u2019t'));
  t.deepEqual(openai.encode('ðŸ˜€'), openai.encode('😀'));
  t.is(fixText('â€œhiâ€\u009d SÃ£o Paulo Â£5'), '“hi” São Paulo £5');
  t.is(fixText('ação é naïve Müller año ðŸ‘'), 'ação é naïve Müller año ðŸ‘'); // real accents and incomplete runs stay
  t.is(openai.clean('  Tom &amp;amp; Jerry\u00a0\u00a0&lt;3  '), 'tom & jerry <3');
  t.is(openai.clean('cafe\u0301'), 'café');
});

test('missing vocab: one-line error saying where to get the file', async (t) => {
  const err = await t.throwsAsync(loadTokenizer({ vocabPath: '/nonexistent/bpe.txt.gz' }));
  t.regex(
    err!.message,
    new RegExp(
      String.raw`vocab file not found: /nonexistent/bpe\.txt\.gz; get bpe_simple_vocab_16e6\.txt\.gz .* ` +
        String.raw`from https://github\.com/openai/CLIP`,
    ),
  );
  t.false(err!.message.includes('\n'));
});

test('vocab sha256 check and CLIP_BENCH_VOCAB override', async (t) => {
  await t.throwsAsync(readMergesFile(vocabPath, '0'.repeat(64)), { message: /has sha256 924691ac/ });
  const dir = mkdtempSync(join(tmpdir(), 'vocab-'));
  const custom = join(dir, 'custom.txt.gz');
  writeFileSync(custom, gzipSync('#version: 0.2 test\nc a\nca t</w>\n'));
  const saved = process.env.CLIP_BENCH_VOCAB;
  process.env.CLIP_BENCH_VOCAB = custom;
  try {
    const tok = await loadTokenizer();
    t.is(tok.mergeCount, 2); // a custom file uses all of its merges
    t.is(tok.vocabSize, 512 + 2 + 2);
    t.deepEqual(tok.encode('cat'), [513]);
    // "c a</w>" is not a merge
    t.deepEqual(tok.encode('ca'), [BYTE_ORDER.indexOf(0x63), 256 + BYTE_ORDER.indexOf(0x61)]);
  } finally {
    if (saved === undefined) delete process.env.CLIP_BENCH_VOCAB;
    else process.env.CLIP_BENCH_VOCAB = saved;
  }
  const badFile = join(dir, 'bad.txt.gz');
  writeFileSync(badFile, gzipSync('#version\nab\n'));
  await t.throwsAsync(loadTokenizer({ vocabPath: badFile }), { message: /bad merge on line 2 .* \(expected "a b"\)/ });
});

test('ASCII fast paths (scanner pre-tokenizer, plain-ASCII cleaning) agree with the general regex path (fuzz)', (t) => {
  const specials = ['<|mask|>', '<|startoftext|>', '<|endoftext|>'];
  const pattern = preTokenPattern(specials);
  const pieces = [
    "'s",
    "'S",
    "'re",
    "'ll",
    "'d",
    "'x",
    "'",
    '<|mask|>',
    '<|ENDOFTEXT|>',
    '<|start',
    '<',
    '|',
    'a',
    'Zq',
    '7',
    '42',
    ' ',
    '  ',
    '!',
    '.,',
    '-',
    '&amp;',
    '\t',
    'don',
    "n't",
  ];
  const rng = deriveRng('fuzz');
  for (let k = 0; k < 3000; k++) {
    let s = '';
    for (let j = 0, len = rng.int(12); j < len; j++) s += pieces[rng.int(pieces.length)];
    t.deepEqual(preTokenize(s, pattern, specials), s.match(pattern) ?? [], JSON.stringify(s));
    const lowered = s.toLowerCase();
    t.deepEqual(preTokenize(lowered, pattern, specials), lowered.match(pattern) ?? [], JSON.stringify(lowered));
    // the plain-ASCII cleaning shortcut equals the full path (forced by a non-ASCII char that cleaning keeps apart)
    t.is(cleanText(s + ' \u00e9').slice(0, -2), cleanText(s), JSON.stringify(s));
  }
});

test.serial(
  'vocab from an http URL: downloaded once into the cache dir, sha256 checked, one-line error when unreachable',
  async (t) => {
    const { createServer } = await import('node:http');
    const bytes = readFileSync(vocabPath);
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (req.url === '/clip/bpe_simple_vocab_16e6.txt.gz') {
        res.writeHead(200);
        res.end(bytes);
      } else if (req.url === '/bad/bpe_simple_vocab_16e6.txt.gz') {
        res.writeHead(200);
        res.end(bytes.subarray(0, 1000));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const saved = process.env.CLIP_BENCH_CACHE;
    process.env.CLIP_BENCH_CACHE = mkdtempSync(join(tmpdir(), 'vocab-cache-'));
    try {
      const url = `http://127.0.0.1:${port}/clip/bpe_simple_vocab_16e6.txt.gz`;
      const tok = await loadTokenizer({ vocabPath: url });
      t.deepEqual(tok.encode('a photo of a cat'), [320, 1125, 539, 320, 2368]);
      await loadTokenizer({ vocabPath: url });
      t.is(requests, 1); // second load served from the cache
      t.is(
        createHash('sha256')
          .update(readFileSync(join(process.env.CLIP_BENCH_CACHE, 'bpe_simple_vocab_16e6.txt.gz')))
          .digest('hex'),
        '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a',
      );
      process.env.CLIP_BENCH_CACHE = mkdtempSync(join(tmpdir(), 'vocab-cache-'));
      const bad = await t.throwsAsync(
        loadTokenizer({ vocabPath: `http://127.0.0.1:${port}/bad/bpe_simple_vocab_16e6.txt.gz` }),
      );
      t.regex(bad!.message, /has sha256 [0-9a-f]{64}, expected 924691ac/);
      const missing = await t.throwsAsync(loadTokenizer({ vocabPath: `http://127.0.0.1:${port}/nope/vocab.txt.gz` }));
      t.regex(missing!.message, /^cannot download vocab .* \(HTTP 404\); get bpe_simple_vocab_16e6\.txt\.gz/);
      t.false(missing!.message.includes('\n'));
    } finally {
      if (saved === undefined) delete process.env.CLIP_BENCH_CACHE;
      else process.env.CLIP_BENCH_CACHE = saved;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
);
