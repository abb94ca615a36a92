// Pure YFCC logic: line parsing, the versioned cleaning function, camera/EXIF regexes, captions,
// Bloom filter, subset keys, parts, dHash index, keys, report table.
import test from 'ava';
import { parseYfccLine, YFCC100M_COLUMNS, parseColumnMap } from '../../src/yfcc/columns.ts';
import { cleanYfccText, cleanYfccTextDetailed, unquotePlus, CLEAN_VERSION } from '../../src/yfcc/clean-yfcc-text.ts';
import { isCameraTitle, isExifDescription } from '../../src/yfcc/camera-patterns.ts';
import { captionCandidates, countWords, passesMinLength } from '../../src/yfcc/caption.ts';
import { BloomFilter } from '../../src/yfcc/bloom-filter.ts';
import { SubsetKeysBuilder } from '../../src/yfcc/subset-keys.ts';
import { byteRange, lineInPart, parsePart } from '../../src/yfcc/part.ts';
import { NearDuplicateIndex, dHash, hamming } from '../../src/yfcc/dhash.ts';
import { sampleKey } from '../../src/yfcc/shard-key.ts';
import { expandImagePath, MULTIMEDIA_COMMONS_TEMPLATE } from '../../src/yfcc/image-path.ts';
import { buildReport, formatReport } from '../../src/yfcc/report.ts';
import { RateLimiter } from '../../src/yfcc/rate-limiter.ts';

test('parseYfccLine: 25 columns parse, wrong counts and bad ids are reasons not exceptions', (t) => {
  const cols = YFCC100M_COLUMNS.map((c, i) => (c === 'photoId' ? '42' : c === 'marker' ? '0' : `v${i}`));
  const ok = parseYfccLine(cols.join('\t') + '\r', 7);
  t.true(ok.ok);
  if (ok.ok) {
    t.is(ok.row.fields.photoId, '42');
    t.is(ok.row.fields.marker, '0');
    t.is(ok.row.pos, 7);
    t.is(ok.row.fields.extensionOriginal, 'v23');
  }
  const short = parseYfccLine('1\t2\t3', 0);
  t.deepEqual(short.ok ? null : short.reason, 'wrong-column-count');
  const bad = parseYfccLine(cols.map((c, i) => (i === 1 ? 'x1' : c)).join('\t'), 0);
  t.deepEqual(bad.ok ? null : bad.reason, 'bad-photo-id');
  t.deepEqual(parseColumnMap('lineNumber,photoId,photoHash'), ['lineNumber', 'photoId', 'photoHash']);
  t.throws(() => parseColumnMap('a,b'), { message: /photoId/ });
});

test(`cleanYfccText (${CLEAN_VERSION}): unquote-plus, tags, URLs, entities, NFC, whitespace`, (t) => {
  t.is(unquotePlus('a+b%20c%C3%A9'), 'a b cé');
  t.is(unquotePlus('100%25+pure+%ZZ'), '100% pure %ZZ');
  t.is(
    cleanYfccText('%3Ca+href%3D%22http%3A%2F%2Fx.org%22%3ELink%3C%2Fa%3E+see+www.example.com%2Fpage+now'),
    'Link see now',
  );
  t.is(cleanYfccText('Fish+%26amp%3B+chips'), 'Fish & chips');
  t.is(cleanYfccText('Cafe%CC%81'), 'Caf\u00e9');
  t.is(cleanYfccText('a%0A%09b+++c'), 'a b c');
  t.is(cleanYfccText('%3Cbr%3E'), '');
});

test(`cleanYfccText (${CLEAN_VERSION}): non-UTF-8 bytes repaired as Windows-1252 or the text dropped, never U+FFFD`, (t) => {
  t.is(unquotePlus('caf%E9+au+lait'), 'caf\u00e9 au lait');
  t.is(unquotePlus('100%25+caf%E9+%ZZ'), '100% caf\u00e9 %ZZ');
  t.deepEqual(cleanYfccTextDetailed('Caf%E9+%93cr%E8me%94'), {
    text: 'Caf\u00e9 \u201ccr\u00e8me\u201d',
    repairedBytes: 4,
    undecodable: false,
  });
  // A broken UTF-8 sequence (lead byte + continuation, incomplete) or a byte Windows-1252 leaves undefined.
  t.deepEqual(cleanYfccTextDetailed('Sunset+%E2%80+today'), { text: '', repairedBytes: 0, undecodable: true });
  t.deepEqual(cleanYfccTextDetailed('odd+%81+byte'), { text: '', repairedBytes: 0, undecodable: true });
  // A replacement character already in the source (or from an entity) is dropped too.
  t.true(cleanYfccTextDetailed('caf\ufffd+au+lait').undecodable);
  t.true(cleanYfccTextDetailed('caf%26%2365533%3B').undecodable);
  t.deepEqual(cleanYfccTextDetailed('plain+%C3%A9t%C3%A9'), {
    text: 'plain \u00e9t\u00e9',
    repairedBytes: 0,
    undecodable: false,
  });
});

test('camera titles and EXIF descriptions', (t) => {
  for (const title of [
    'IMG_1234',
    'DSC01234.JPG',
    'DSCN0042',
    'P1010001',
    '20160716_113957',
    '2016-07-16 11.39.57',
    'IMG_20160716_113957.jpg',
    'GOPR0123',
    'DJI_0001',
    '_MG_4321',
    'IMG_1234 (2)',
    '1234567',
    'Untitled',
    'photo.jpeg',
    'DSC_0001',
    'IMG-20190101-WA0001',
    'PXL_20210101_123456789',
    'PANO_20160716_113957.jpg',
    'Screenshot_2019-01-01-12-34-56',
  ]) {
    t.true(isCameraTitle(title), title);
  }
  for (const title of ['IMG_1234 sunset at the pier', 'Sunset', 'Route 66 diner', 'Paris 2016', 'The 1999 parade'])
    t.false(isCameraTitle(title), title);
  t.true(isExifDescription('Canon EOS 5D f/2.8 1/250s ISO 200 50mm'));
  t.true(
    isExifDescription(
      'Camera: NIKON D90 Exposure: 0.004 sec (1/250) Aperture: f/8.0 Focal Length: 18 mm ISO Speed: 200',
    ),
  );
  t.false(isExifDescription('Shot this at f/2.8 because the light was fading quickly over the mountains'));
  t.false(isExifDescription('We drove for hours along the coast road to reach the little fishing village at 50mm'));
  t.false(
    isExifDescription(
      'Taken with my Canon 5D at 50mm, f/1.8, 1/200 sec. A lovely afternoon in the park with the kids.',
    ),
  );
  t.true(isExifDescription('ISO 400, 1/60 sec, f/4, 35 mm, flash did not fire'));
});

test('caption policy, word counts, min length', (t) => {
  t.deepEqual(
    captionCandidates('keep-both', 'A', 'B').map((c) => c.source),
    ['title', 'description'],
  );
  t.deepEqual(
    captionCandidates('concat', 'Old mill', 'by the river').map((c) => c.text),
    ['Old mill. by the river'],
  );
  t.deepEqual(captionCandidates('description', 'A', ''), []);
  t.is(countWords('a - b, c'), 3);
  t.false(passesMinLength('Eiffel Tower', 3, 6));
  t.true(passesMinLength('the Eiffel Tower', 3, 6));
});

test('BloomFilter: no false negatives, FP rate near target', (t) => {
  const f = new BloomFilter(10_000, 0.01);
  for (let i = 0; i < 10_000; i++) t.false(f.testAndAdd(`k${i}`) && i < 0);
  let missing = 0;
  for (let i = 0; i < 10_000; i++) if (!f.has(`k${i}`)) missing++;
  t.is(missing, 0);
  let fp = 0;
  for (let i = 0; i < 20_000; i++) if (f.has(`other${i}`)) fp++;
  t.true(fp / 20_000 < 0.02, `fp rate ${fp / 20_000}`);
  t.true(Math.abs(f.expectedFalsePositiveRate() - 0.01) < 0.005);
  t.true(f.testAndAdd('k5'));
});

test('SubsetKeys: match, hash mismatch, absent', (t) => {
  const b = new SubsetKeysBuilder();
  b.add(5000000001, 'abcd1234');
  b.add(17, 'ffff0000');
  b.add(99, '');
  const k = b.build();
  t.is(k.lookup(17, 'ffff0000aaaa'), 'match');
  t.is(k.lookup(17, '0000ffff'), 'hash-mismatch');
  t.is(k.lookup(5000000001, 'abcd9999'), 'match');
  t.is(k.lookup(99, '1234'), 'match');
  t.is(k.lookup(18, 'ffff0000'), 'absent');
});

test('parts: byte ranges tile the file, line blocks round-robin', (t) => {
  t.deepEqual(parsePart('2/4'), { index: 2, count: 4 });
  t.throws(() => parsePart('4/4'));
  const ranges = [0, 1, 2].map((index) => byteRange(100, { index, count: 3 }));
  t.deepEqual(ranges, [
    { start: 0, end: 33 },
    { start: 33, end: 66 },
    { start: 66, end: 100 },
  ]);
  const owners = Array.from({ length: 12 }, (_, i) =>
    [0, 1, 2].filter((index) => lineInPart(i, { index, count: 3 }, 2)),
  );
  t.deepEqual(
    owners.map((o) => o.length),
    Array(12).fill(1),
  );
  t.deepEqual(
    owners.map((o) => o[0]),
    [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2],
  );
});

test('dHash and near-duplicate index', (t) => {
  const grey = Uint8Array.from({ length: 72 }, (_, i) => (i * 37) % 256);
  const h = dHash(grey);
  const g2 = grey.slice();
  g2[0] = 255; // flips at most one comparison
  t.true(hamming(h, dHash(g2)) <= 1);
  const idx = new NearDuplicateIndex(4);
  t.is(idx.findOrAdd(h), undefined);
  t.is(idx.findOrAdd(h ^ 0b1011n), h); // 3 bits away
  t.is(idx.findOrAdd(h ^ 0x1f0000000000n), undefined); // 5 bits away
});

test('keys, image paths, report table', (t) => {
  t.is(sampleKey(1, 5, 10_000), '000010005');
  t.is(
    expandImagePath(MULTIMEDIA_COMMONS_TEMPLATE, { hash: 'abcdef0123', id: '7' }),
    'data/images/abc/def/abcdef0123.jpg',
  );
  const r = buildReport(
    {
      'yfcc.parse.in': 10,
      'yfcc.parse.out': 8,
      'yfcc.parse.drop.wrong-column-count': 2,
      'yfcc.read.out': 10,
      'yfcc.read.in': 10,
    },
    ['read', 'parse'],
  );
  t.deepEqual(
    r.stages.map((s) => [s.stage, s.in, s.out, s.dropped]),
    [
      ['read', 10, 10, 0],
      ['parse', 10, 8, 2],
    ],
  );
  t.regex(formatReport(r), /parse\s+10\s+8\s+2\s+wrong-column-count=2/);
});

test('RateLimiter: 6 acquisitions at 50/s with burst 1 take >= 100 ms', async (t) => {
  const limiter = new RateLimiter(50, 1);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 6 }, () => limiter.acquire()));
  t.true(performance.now() - t0 >= 95, `${performance.now() - t0} ms`);
});

test('progress stage: plain lines with rows/s when not a TTY, items pass through', async (t) => {
  const { progress } = await import('../../stages/core/progress.ts');
  const { runStages, createContext, collect } = await import('../../stages/core/stage.ts');
  const lines: string[] = [];
  const items = Array.from({ length: 3000 }, (_, i) => i);
  const out = await runStages(
    createContext(),
    items,
    [progress({ label: 'rows', tty: false, intervalMs: 0, write: (l) => lines.push(l) })],
    collect<number>(),
  );
  t.deepEqual(out, items);
  t.regex(lines[0], /^rows: \d+ rows, \d+ rows\/s$/);
  t.regex(lines.at(-1)!, /^rows: done, 3000 rows in [\d.]+ s, \d+ rows\/s$/);
});

test('language stage: repeated texts hit the LRU cache and get the same label and score', async (t) => {
  const { englishOnly } = await import('../../stages/yfcc/english-only.ts');
  const { runStages, createContext, collect } = await import('../../stages/core/stage.ts');
  const text = 'We walked up to the lighthouse on a windy afternoon';
  const recs = [0, 1, 2].map((pos) => ({
    pos,
    fields: {},
    candidates: [{ source: 'title' as const, text: pos === 1 ? 'Der Hund spielt im Garten mit dem roten Ball' : text }],
  }));
  const ctx = createContext();
  const out = await runStages(ctx, recs, [englishOnly()], collect<(typeof recs)[number]>());
  t.deepEqual(
    out.map((r) => r.pos),
    [0, 2],
  );
  t.deepEqual(out[1].candidates[0], out[0].candidates[0]);
  t.is(ctx.counters.get('yfcc.language.note.cache-hit'), 1);
  t.is(ctx.counters.get('yfcc.language.drop.not-english'), 1);
});
