// The YFCC filter pipeline on the hand-written fixture (fixtures/yfcc/make-fixtures.ts documents
// every row's fate): exact counts per stage, compressed inputs, the subset join, and parts run in
// parallel worker processes producing exactly the rows of one run.
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runFilterPart, partPaths, type FilterOptions } from '../../run/yfcc/filter-part.ts';
import { mergeParts } from '../../run/yfcc/merge-parts.ts';
import { createContext } from '../../stages/core/stage.ts';
import { Counters } from '../../src/counters.ts';
import type { YfccReport } from '../../src/yfcc/report.ts';
import { systemBzip2 } from '../../stages/yfcc/read-lines.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/yfcc/${name}`, import.meta.url));
const pipeline = fileURLToPath(new URL('../../pipelines/yfcc15m-filter.ts', import.meta.url));
const run = promisify(execFile);
const quietCtx = () => createContext({ counters: new Counters(() => {}) });

const tmpDirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'yfcc-filter-'));
  tmpDirs.push(d);
  return d;
}
test.after.always(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

async function runAll(options: Omit<FilterOptions, 'out'>, parts = 1) {
  const out = await tmp();
  const opts: FilterOptions = { quiet: true, dedupCapacity: 10_000, ...options, out };
  for (let index = 0; index < parts; index++) await runFilterPart(opts, { index, count: parts }, quietCtx());
  const report = await mergeParts(opts, parts, quietCtx());
  const rows = (await readFile(join(out, 'yfcc15m.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return { out, report, rows };
}

const table = (r: YfccReport) => Object.fromEntries(r.stages.map((s) => [s.stage, [s.in, s.out, s.reasons, s.notes]]));

// Derived by hand from the 31 fixture lines (see the comments in make-fixtures.ts).
const EXPECTED = {
  read: [31, 31, {}, {}],
  parse: [31, 27, { 'wrong-column-count': 2, 'empty-line': 1, 'bad-photo-id': 1 }, {}],
  'photos-only': [27, 26, { video: 1 }, {}],
  clean: [26, 26, {}, { 'title-emptied': 1, 'description-emptied': 2 }],
  'camera-title': [26, 26, {}, { 'title-rejected': 5 }],
  'exif-description': [26, 26, {}, { 'description-rejected': 1 }],
  caption: [26, 21, { 'empty-after-cleaning': 5 }, {}],
  'min-length': [21, 17, { 'too-short': 4 }, {}],
  language: [17, 15, { 'not-english': 2 }, { 'candidate-removed': 1 }],
  dedup: [15, 13, { 'duplicate-photo-hash': 1, 'duplicate-caption-url': 1 }, {}],
};
const KEPT_IDS = [
  '1001',
  '1002',
  '1003',
  '1005',
  '1018',
  '1023',
  '1024',
  '1025',
  '1026',
  '1027',
  '1028',
  '1029',
  '1031',
];

test('fixture: exact counts after every stage and the kept rows', async (t) => {
  const { out, report, rows } = await runAll({ metadata: fixture('metadata.tsv') });
  t.deepEqual(table(report), EXPECTED);
  t.deepEqual(
    rows.map((r) => r.photoId),
    KEPT_IDS,
  );
  const byId = Object.fromEntries(rows.map((r) => [r.photoId, r]));
  t.is(byId['1003'].title, 'Breakfast at the corner bakery this morning');
  t.is(byId['1003'].description, 'Link Breakfast with friends & family at the corner bakery');
  t.deepEqual(
    byId['1002'].captions.map((c: { source: string }) => c.source),
    ['title', 'description'],
  );
  t.is(byId['1005'].caption, 'Children playing football in the park near our house');
  t.is(byId['1028'].captions.length, 1);
  t.is(byId['1029'].caption, 'A caf\u00e9 in Montmartre where we had breakfast with my sister');
  t.is(byId['1023'].caption, '100% natural orange juice %ZZ from Florida');
  t.is(byId['1001'].captions[0].lang, 'en');
  t.is(byId['1001'].captions[0].engScore, 1);
  t.is(byId['1001'].cleanVersion, 'yfcc-clean-v1');
  t.is(byId['1001'].captureDevice, 'Canon EOS 5D');
  t.is(byId['1001'].latitude, 51.5072);
  const saved = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
  t.deepEqual(
    saved.stages.map((s: { stage: string }) => s.stage),
    Object.keys(EXPECTED),
  );
});

test('caption policy title: descriptions are not used', async (t) => {
  const { report, rows } = await runAll({ metadata: fixture('metadata.tsv'), caption: 'title' });
  t.false(rows.some((r) => r.captions.some((c: { source: string }) => c.source !== 'title')));
  // rows 4, 5, 6, 7, 12, 13, 24, 25 have no usable title
  t.is(report.stages.find((s) => s.stage === 'caption')!.reasons['empty-after-cleaning'], 8);
});

test('bz2 (system and JS decoders) and gzip inputs give the same rows as the plain TSV', async (t) => {
  const strip = (rows: Array<Record<string, unknown>>) => rows.map(({ pos: _pos, ...rest }) => rest);
  const plain = await runAll({ metadata: fixture('metadata.tsv') });
  // pipe: needs a bzip2 binary; without one the 'system' decoder falls back to the JS one.
  const pipe = systemBzip2() ? [[`pipe:${systemBzip2()} -dc '${fixture('metadata.tsv.bz2')}'`, 'system'] as const] : [];
  for (const [name, decompressor] of [
    ['metadata.tsv.bz2', 'system'],
    ['metadata.tsv.bz2', 'js'],
    ['metadata.tsv.gz', 'system'],
    ...pipe,
  ] as const) {
    const r = await runAll(
      { metadata: name.startsWith('pipe:') ? name : fixture(name), decompressor, blockLines: 4 },
      3,
    );
    t.deepEqual(strip(r.rows), strip(plain.rows), `${name} ${decompressor}`);
    t.deepEqual(table(r.report), EXPECTED, `${name} ${decompressor}`);
  }
});

test('plain TSV split into 2..7 byte-range parts gives exactly the rows and counts of one run', async (t) => {
  const one = await runAll({ metadata: fixture('metadata.tsv') });
  for (const parts of [2, 3, 5, 7]) {
    const r = await runAll({ metadata: fixture('metadata.tsv') }, parts);
    t.deepEqual(r.rows, one.rows, `${parts} parts`);
    t.deepEqual(table(r.report), EXPECTED, `${parts} parts`);
  }
});

test('named-field metadata (dalle-mini parquet): same stages, camera title and French title handled', async (t) => {
  const { report, rows } = await runAll({ metadata: fixture('dalle-mini.parquet'), blockLines: 1 }, 2);
  const tbl = table(report);
  t.deepEqual(tbl.read.slice(0, 2), [3, 3]);
  t.deepEqual(tbl['camera-title'][3], { 'title-rejected': 1 });
  t.deepEqual(tbl.language.slice(0, 3), [3, 2, { 'not-english': 1 }]);
  t.deepEqual(
    rows.map((r) => [r.photoId, r.caption]),
    [
      ['10001', 'Sailing boats in the harbour'],
      ['10002', 'Walking through the autumn leaves in the park'],
    ],
  );
});

test('named-field metadata as gzipped JSON lines with a custom field map', async (t) => {
  const dir = await tmp();
  const { gzipSync } = await import('node:zlib');
  const rows = [
    { id: 1, h: 'aa01', t: 'A+long+walk+on+the+beach+at+dawn', m: 0 },
    { id: 2, h: 'aa02', t: 'DSC_0001', m: 0 },
    { id: 'x3', h: 'aa03', t: 'Bad+id+row+with+a+caption', m: 0 },
    { id: 4, h: 'aa04', t: 'Fireworks+over+the+bay+tonight', m: 1 },
  ];
  const path = join(dir, 'meta.jsonl.gz');
  await writeFile(path, gzipSync(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'));
  const { parseNamedFields } = await import('../../stages/yfcc/named-rows.ts');
  const { report, rows: out } = await runAll({
    metadata: path,
    metadataFields: parseNamedFields('photoId=id,photoHash=h,title=t,marker=m'),
  });
  const tbl = table(report);
  t.deepEqual(tbl.parse.slice(0, 3), [4, 3, { 'bad-photo-id': 1 }]);
  t.deepEqual(tbl['photos-only'].slice(0, 3), [3, 2, { video: 1 }]);
  t.deepEqual(tbl.caption.slice(0, 3), [2, 1, { 'empty-after-cleaning': 1 }]);
  t.deepEqual(
    out.map((r) => [r.photoId, r.caption]),
    [['1', 'A long walk on the beach at dawn']],
  );
});

test('subset join: listed ids kept, hash mismatch and missing keys reported', async (t) => {
  const { report, rows } = await runAll({ metadata: fixture('metadata.tsv'), subset: fixture('subset.tsv') });
  const subset = report.stages.find((s) => s.stage === 'subset')!;
  t.deepEqual([subset.in, subset.out, subset.reasons], [27, 4, { 'not-in-subset': 22, 'hash-mismatch': 1 }]);
  t.deepEqual(
    rows.map((r) => r.photoId),
    ['1001', '1002', '1003'],
  );
  t.is(report.extra['subset list keys'], 12);
  t.is(report.extra['subset keys not found in metadata'], 7);
});

test('two parts in parallel worker processes produce exactly the rows of one run; reruns skip finished parts', async (t) => {
  const one = await tmp(),
    two = await tmp();
  const args = ['--metadata', fixture('metadata.tsv'), '--quiet', '--dedup-capacity', '10000'];
  await run(process.execPath, [pipeline, ...args, '--out', one]);
  const r = await run(process.execPath, [pipeline, ...args, '--out', two, '--parts', '2', '--parallel', '2']);
  t.regex(r.stdout, /dedup\s+15\s+13\s+2/);
  const a = await readFile(join(one, 'yfcc15m.jsonl'), 'utf8'),
    b = await readFile(join(two, 'yfcc15m.jsonl'), 'utf8');
  t.is(b, a);
  const countersOf = async (d: string) => JSON.parse(await readFile(join(d, 'report.json'), 'utf8')).counters;
  t.deepEqual(await countersOf(two), await countersOf(one));
  // Both parts did real work (the split is not degenerate).
  for (const index of [0, 1]) {
    const c = JSON.parse(await readFile(partPaths(two, { index, count: 2 }).counters, 'utf8')).counters;
    t.true(c['yfcc.read.out'] > 5);
  }
  // A rerun finds both parts finished and only merges again.
  const again = await run(process.execPath, [pipeline, ...args, '--out', two, '--part', '1/2']);
  t.regex(again.stderr, /part-00001-of-00002 skipped/);
});

test('merge refuses unfinished parts and a wrong input row count with one-line errors', async (t) => {
  const out = await tmp();
  await runFilterPart({ metadata: fixture('metadata.tsv'), out, quiet: true }, { index: 0, count: 2 }, quietCtx());
  await t.throwsAsync(mergeParts({ out, quiet: true }, 2, quietCtx()), { message: /1 of 2 parts are not finished/ });
  await runFilterPart({ metadata: fixture('metadata.tsv'), out, quiet: true }, { index: 1, count: 2 }, quietCtx());
  await t.throwsAsync(mergeParts({ out, quiet: true, expectRows: 100 }, 2, quietCtx()), {
    message: /expected 100 metadata rows, read 31/,
  });
  await t.notThrowsAsync(mergeParts({ out, quiet: true, expectRows: 31, dedupCapacity: 1000 }, 2, quietCtx()));
});

test('a truncated .bz2 fails with a one-line error (system and JS decoders), never silently short', async (t) => {
  const dir = await tmp();
  const bytes = await readFile(fixture('metadata.tsv.bz2'));
  const path = join(dir, 'truncated.tsv.bz2');
  await writeFile(path, bytes.subarray(0, 1000));
  for (const decompressor of ['system', 'js'] as const) {
    await t.throwsAsync(
      runFilterPart(
        { metadata: path, out: join(dir, decompressor), quiet: true, decompressor },
        { index: 0, count: 1 },
        quietCtx(),
      ),
      { message: /truncated|corrupt|bzip2/i },
      decompressor,
    );
  }
});
