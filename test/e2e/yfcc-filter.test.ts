// The YFCC filter pipeline on the hand-written fixture (fixtures/yfcc/make-fixtures.ts documents
// every row's fate): exact counts per stage, compressed inputs, the subset join, and parts run in
// parallel worker processes producing exactly the rows of one run.
import test from 'ava';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { alive, descendants, killLeftovers, waitFor } from './process-tree.ts';
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
const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

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

// Derived by hand from the 37 fixture lines (see the comments in make-fixtures.ts).
const EXPECTED = {
  read: [37, 37, {}, { 'non-utf8-repaired': 1 }],
  parse: [37, 33, { 'wrong-column-count': 2, 'empty-line': 1, 'bad-photo-id': 1 }, {}],
  'photos-only': [33, 32, { video: 1 }, {}],
  clean: [
    32,
    32,
    {},
    { 'title-emptied': 1, 'description-emptied': 2, 'title-repaired-cp1252': 1, 'title-undecodable': 1 },
  ],
  'camera-title': [32, 32, {}, { 'title-rejected': 5 }],
  'exif-description': [32, 32, {}, { 'description-rejected': 1 }],
  caption: [32, 27, { 'empty-after-cleaning': 5 }, {}],
  'min-length': [27, 23, { 'too-short': 4 }, {}],
  language: [23, 19, { 'not-english': 4 }, { 'candidate-removed': 1, 'non-latin-script': 2 }],
  dedup: [19, 17, { 'duplicate-photo-hash': 1, 'duplicate-caption-url': 1 }, {}],
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
  '1032',
  '1033',
  '1034',
  '1037',
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
  // Non-UTF-8 bytes: repaired as Windows-1252 (escaped or raw), or the field dropped; never U+FFFD in a caption.
  t.is(byId['1032'].caption, 'Jalape\u00f1o peppers growing in the garden this summer');
  t.is(byId['1033'].caption, 'The caf\u00e9 on the corner of our \u201cfavourite\u201d street');
  t.is(byId['1034'].title, '');
  t.is(byId['1034'].caption, 'We stayed on the beach until the sun went down');
  t.false(rows.some((r) => JSON.stringify(r).includes('\ufffd')));
  t.is(byId['1037'].caption, 'Red double decker bus in London');
  t.is(byId['1001'].captions[0].engScore, 1);
  t.is(byId['1001'].cleanVersion, 'yfcc-clean-v2');
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
  // rows 4, 5, 6, 7, 12, 13, 24, 25 and 33 (undecodable) have no usable title
  t.is(report.stages.find((s) => s.stage === 'caption')!.reasons['empty-after-cleaning'], 9);
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
    { id: 5, h: 'aa05', t: 'Caf\ufffd+by+the+river+at+noon', m: 0 },
  ];
  const path = join(dir, 'meta.jsonl.gz');
  // The last line holds a raw Latin-1 byte (0xE9), not UTF-8.
  const latin1 = Buffer.from('{"id":6,"h":"aa06","t":"The+caf\xe9+on+the+corner+of+the+square","m":0}\n', 'latin1');
  await writeFile(
    path,
    gzipSync(Buffer.concat([Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n'), latin1])),
  );
  const { parseNamedFields } = await import('../../stages/yfcc/named-rows.ts');
  const { report, rows: out } = await runAll({
    metadata: path,
    metadataFields: parseNamedFields('photoId=id,photoHash=h,title=t,marker=m'),
  });
  const tbl = table(report);
  t.deepEqual(tbl.read[3], { 'non-utf8-repaired': 1 });
  t.deepEqual(tbl.parse.slice(0, 3), [6, 5, { 'bad-photo-id': 1 }]);
  t.deepEqual(tbl['photos-only'].slice(0, 3), [5, 4, { video: 1 }]);
  t.deepEqual(tbl.clean[3], { 'title-undecodable': 1 });
  t.deepEqual(tbl.caption.slice(0, 3), [4, 2, { 'empty-after-cleaning': 2 }]);
  t.deepEqual(
    out.map((r) => [r.photoId, r.caption]),
    [
      ['1', 'A long walk on the beach at dawn'],
      ['6', 'The caf\u00e9 on the corner of the square'],
    ],
  );
});

test('subset join: listed ids kept, hash mismatch and missing keys reported', async (t) => {
  const { report, rows } = await runAll({ metadata: fixture('metadata.tsv'), subset: fixture('subset.tsv') });
  const subset = report.stages.find((s) => s.stage === 'subset')!;
  t.deepEqual([subset.in, subset.out, subset.reasons], [33, 4, { 'not-in-subset': 28, 'hash-mismatch': 1 }]);
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
  t.regex(r.stdout, /dedup\s+19\s+17\s+2/);
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
    message: /expected 100 metadata rows, read 37/,
  });
  await t.notThrowsAsync(mergeParts({ out, quiet: true, expectRows: 37, dedupCapacity: 1000 }, 2, quietCtx()));
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

test('a finished part is reused only with the same input and settings; otherwise refused (or redone with --force)', async (t) => {
  const dir = await tmp();
  const out = join(dir, 'out');
  const metadata = join(dir, 'meta.tsv');
  await writeFile(metadata, await readFile(fixture('metadata.tsv')));
  const opts: FilterOptions = { metadata, out, quiet: true, dedupCapacity: 1000 };
  const part = { index: 0, count: 1 };
  t.is(await runFilterPart(opts, part, quietCtx()), 'done');
  // The same file under another path (a copy, a move) is the same input: reused.
  const copy = join(dir, 'copy.tsv');
  await writeFile(copy, await readFile(metadata));
  t.is(await runFilterPart({ ...opts, metadata: copy }, part, quietCtx()), 'skipped');
  // Explicit defaults are the same settings.
  t.is(await runFilterPart({ ...opts, caption: 'keep-both', minWords: 3 }, part, quietCtx()), 'skipped');
  // Other settings: refused, naming what differs.
  await t.throwsAsync(runFilterPart({ ...opts, language: false, caption: 'title' }, part, quietCtx()), {
    message:
      /part-00000-of-00001\.counters\.json was made with other settings \(language: ".*" -> "off"\); refusing to mix .*--force/,
  });
  // Another input: a different file, or the same file with other content of the same size.
  await t.throwsAsync(runFilterPart({ ...opts, metadata: fixture('metadata.tsv.gz') }, part, quietCtx()), {
    message: /made from another input \(metadata .*: size \d+ -> \d+ bytes\)/,
  });
  const bytes = await readFile(metadata);
  bytes[bytes.indexOf('Sunset')] = 'T'.charCodeAt(0);
  await writeFile(metadata, bytes);
  await t.throwsAsync(runFilterPart(opts, part, quietCtx()), { message: /same size, other content/ });
  // --force redoes the part with the new settings; the merge then reports them.
  t.is(await runFilterPart({ ...opts, caption: 'title', force: true }, part, quietCtx()), 'done');
  await mergeParts(opts, 1, quietCtx());
  const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8'));
  t.is(report.recipe.settings.caption, 'title');
  t.is(report.cleanVersion, 'yfcc-clean-v2');
});

test('the merge refuses parts made from different recipes; the CLI refuses before starting workers', async (t) => {
  const dir = await tmp();
  const out = join(dir, 'out');
  const opts: FilterOptions = { metadata: fixture('metadata.tsv'), out, quiet: true, dedupCapacity: 1000 };
  await runFilterPart(opts, { index: 0, count: 2 }, quietCtx());
  await runFilterPart({ ...opts, minChars: 10 }, { index: 1, count: 2 }, quietCtx());
  await t.throwsAsync(mergeParts(opts, 2, quietCtx()), {
    message:
      /cannot merge: .*part-00001-of-00002\.counters\.json differs from part 0 \(it was made with other settings \(minChars: 10 -> 6\)\)/,
  });
  const err: { code?: number; stderr: string } = await run(process.execPath, [
    pipeline,
    '--metadata',
    fixture('metadata.tsv'),
    '--out',
    out,
    '--quiet',
    '--parts',
    '2',
    '--caption',
    'title',
  ]).catch((e) => e);
  t.is(err.code, 1);
  t.regex(
    err.stderr,
    /^pipelines\/yfcc15m-filter\.ts: .*part-00000-of-00002\.counters\.json was made with other settings \(caption: "keep-both" -> "title"\)/,
  );
  t.is(err.stderr.trim().split('\n').length, 1);
});

for (const [signal, what] of [
  ['SIGKILL', 'kill -9 of the coordinator'],
  ['SIGINT', 'Ctrl-C (SIGINT to the process group)'],
] as const)
  test(`${what}: workers stop, remove their temporary files and their pipe commands`, async (t) => {
    const dir = await tmp();
    const out = join(dir, 'out');
    const parts = join(out, 'parts');
    // Each worker reads the fixture through a pipe command that then stalls, so the workers are mid-part when the
    // coordinator is stopped, with their temporary row files open.
    const metadata = `pipe:cat '${fixture('metadata.tsv')}'; sleep 300`;
    const coordinator = spawn(
      process.execPath,
      [pipeline, '--metadata', metadata, '--out', out, '--parts', '2', '--parallel', '2', '--quiet'],
      { stdio: 'ignore', detached: true }, // its own process group, as a shell job has
    );
    const exited = new Promise<number | null>((resolve) => coordinator.on('exit', (code) => resolve(code)));
    const started: number[] = [];
    try {
      const tree = await waitFor('two workers with temporary files', 60_000, () => {
        const temps = existsSync(parts) ? readdirSync(parts).filter((n) => /\.tmp-\d+$/.test(n)) : [];
        const pids = descendants(coordinator.pid!);
        return temps.length === 2 && pids.filter((p) => commandOf(p).startsWith('sleep')).length === 2 && pids;
      });
      started.push(...tree);
      t.true(tree.length >= 6); // 2 x (worker, sh, sleep) at least
      if (signal === 'SIGKILL') process.kill(coordinator.pid!, 'SIGKILL');
      else process.kill(-coordinator.pid!, 'SIGINT');
      await waitFor('every worker and pipe command to end', 30_000, () => tree.every((p) => !alive(p)));
      t.deepEqual(
        readdirSync(parts).filter((n) => /\.tmp-\d+$/.test(n)),
        [],
      );
      if (signal === 'SIGINT') t.is(await exited, 130);
    } finally {
      killLeftovers([...descendants(coordinator.pid!), coordinator.pid!, ...started]);
    }
  });

test('stale temporary files of dead processes are removed at the next start; a live writer keeps its file', async (t) => {
  const dir = await tmp();
  const out = join(dir, 'out');
  const parts = join(out, 'parts');
  await mkdir(parts, { recursive: true });
  // A process id that is certainly gone (a child of ours that has exited) and one that is running (a child of ours
  // that sleeps, stopped below).
  const dead = spawn('true');
  await new Promise((resolve) => dead.on('close', resolve));
  const running = spawn('sleep', ['60']);
  try {
    const stale = `part-00000-of-00001.jsonl.tmp-${dead.pid}`,
      live = `part-00000-of-00001.jsonl.tmp-${running.pid}`;
    await writeFile(join(parts, stale), 'x'.repeat(1000));
    await writeFile(join(parts, live), 'y');
    await runFilterPart({ metadata: fixture('metadata.tsv'), out, quiet: true }, { index: 0, count: 1 }, quietCtx());
    t.false(existsSync(join(parts, stale)));
    t.true(existsSync(join(parts, live)));
  } finally {
    running.kill('SIGKILL');
  }
});

test('both YFCC commands: --help in the one format (exit 0), a bad flag is one line and exit 2', async (t) => {
  for (const name of ['yfcc15m-filter', 'yfcc15m-shards']) {
    const script = fileURLToPath(new URL(`../../pipelines/${name}.ts`, import.meta.url));
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const help = await run(process.execPath, [script, '--help'], { cwd });
    t.true(help.stdout.startsWith(`usage: node pipelines/${name}.ts --`), help.stdout.slice(0, 100));
    t.regex(help.stdout, /\noptions:\n/);
    t.regex(help.stdout, /\n {2}--part i\/N +run only part i of N/);
    t.regex(help.stdout, /Slurm/);
    t.is(help.stderr, '');
    const bad: { code?: number; stderr: string } = await run(
      process.execPath,
      [script, '--out', 'x', '--parts', 'two'],
      {
        cwd,
      },
    ).catch((e) => e);
    t.is(bad.code, 2);
    t.is(bad.stderr, `pipelines/${name}.ts: --parts: expected a number, got "two"\n`);
  }
});
