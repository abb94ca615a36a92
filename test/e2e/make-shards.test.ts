// make-shards round trips on the real CIFAR-10 test folder (10000 images) and Flickr8k-1k captions
// (1000 images): inspect-shards counts them and every member read back is byte-identical to its source.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCaptionShards, makeClassFolderShards } from '../../run/make-shards.ts';
import { inspectShards } from '../../run/inspect-shards.ts';
import { readShards } from '../../stages/webdataset/read-shards.ts';
import { createContext } from '../../stages/core/stage.ts';
import { Counters } from '../../src/counters.ts';
import { DelimitedParser } from '../../src/webdataset/delimited-parser.ts';
import { textMember, type WdsSample } from '../../src/webdataset/sample.ts';
import { sharedData } from '../helpers/shared-data.ts';

const dir = mkdtempSync(join(tmpdir(), 'make-shards-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const bytesEqual = (a: Uint8Array, b: Uint8Array) =>
  Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  ) === 0;

test('class folder (cifar10-test) -> jpg+cls shards: 10000 samples, byte-identical, cls = sorted folder index', async (t) => {
  const root = sharedData('data/cifar10-test');
  const result = await makeClassFolderShards({
    root,
    pattern: join(dir, 'cifar', 'cifar-%06d.tar'),
    maxCount: 3000,
    shuffleSeed: 1,
  });
  t.is(result.samples, 10000);
  t.is(result.shards.length, 4);
  const classes = readFileSync(join(dir, 'cifar', 'classnames.txt'), 'utf8')
    .trim()
    .split('\n');
  t.deepEqual(classes, ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
  t.deepEqual(result.classes, classes);

  const summary = await inspectShards([join(dir, 'cifar', 'cifar-{000000..000003}.tar')], { keys: 2 });
  t.like(summary, { shards: 4, samples: 10000, extensions: { cls: 10000, jpg: 10000 }, errors: [] });
  t.is(summary.keys!.length, 2);

  const perClass = new Map<string, number>();
  const seenKeys = new Set<string>();
  let mixed = 0,
    previous = '';
  for await (const s of readShards({ shards: result.shards })) {
    const [cls, stem] = s.__key__.split('/');
    t.is(textMember(s, 'cls'), String(classes.indexOf(cls)));
    const source = await readFile(join(root, cls, `${stem}.jpg`));
    if (!bytesEqual(s.jpg as Uint8Array, source)) t.fail(`${s.__key__}.jpg differs from its source`);
    perClass.set(cls, (perClass.get(cls) ?? 0) + 1);
    seenKeys.add(s.__key__);
    if (cls !== previous) mixed++;
    previous = cls;
  }
  t.is(seenKeys.size, 10000);
  t.deepEqual([...perClass.values()], Array(10).fill(1000));
  t.true(mixed > 1000, 'the shuffle seed mixes classes within shards');
});

test('caption table (flickr8k-1k) -> jpg+txt+json shards: 1000 samples with all captions, byte-identical', async (t) => {
  const table = sharedData('data/flickr8k-1k/captions.txt');
  const images = sharedData('data/flickr8k-1k/images');
  const result = await makeCaptionShards({ table, pattern: join(dir, 'flickr', 'flickr-%06d.tar'), maxCount: 400 });
  t.is(result.samples, 1000);
  t.is(result.shards.length, 3);
  const summary = await inspectShards([join(dir, 'flickr', 'flickr-{000000..000002}.tar')]);
  t.like(summary, { shards: 3, samples: 1000, extensions: { jpg: 1000, json: 1000, txt: 1000 }, errors: [] });

  // Expected captions per image, from an independent parse of the whole table.
  const parser = new DelimitedParser(',');
  const rows = [...parser.push(readFileSync(table, 'utf8')), ...parser.end()].slice(1);
  const expected = new Map<string, string[]>();
  for (const [image, caption] of rows) expected.set(image, [...(expected.get(image) ?? []), caption]);
  t.is(expected.size, 1000);

  let n = 0;
  for await (const s of readShards({ shards: result.shards })) {
    const image = `${s.__key__}.jpg`;
    const captions = expected.get(image);
    if (!captions) {
      t.fail(`unexpected key ${s.__key__}`);
      continue;
    }
    t.is(textMember(s, 'txt'), captions.join('\n'));
    t.deepEqual(JSON.parse(textMember(s, 'json')!), { image, captions });
    if (!bytesEqual(s.jpg as Uint8Array, await readFile(join(images, image))))
      t.fail(`${image} differs from its source`);
    n++;
  }
  t.is(n, 1000);
  t.true(
    rows.some(([, c]) => c.includes(',')),
    'the table has quoted captions with commas',
  );
});

test('caption tables: TSV, quoting, custom columns, missing images and non-adjacent rows are handled', async (t) => {
  const root = join(dir, 'tsv');
  mkdirSync(join(root, 'imgs', 'sub'), { recursive: true });
  writeFileSync(join(root, 'imgs', 'a.jpg'), 'AAAA');
  writeFileSync(join(root, 'imgs', 'sub', 'b.v2.png'), 'BBBB');
  writeFileSync(
    join(root, 'table.tsv'),
    'id\tpath\ttext\n1\ta.jpg\tfirst "quoted" caption\n2\ta.jpg\tsecond, with comma\n3\tsub/b.v2.png\tb caption\n4\tmissing.jpg\tnothing\n5\ta.jpg\tlate row\n',
  );
  const warnings: string[] = [];
  const ctx = createContext({ counters: new Counters((m) => warnings.push(m)) });
  const result = await makeCaptionShards({
    table: join(root, 'table.tsv'),
    images: join(root, 'imgs'),
    imageColumn: 'path',
    captionColumn: 'text',
    pattern: join(root, 'out-%d.tar'),
    ctx,
  });
  t.is(result.samples, 2);
  const samples: WdsSample[] = [];
  for await (const s of readShards({ shards: result.shards })) samples.push(s);
  t.deepEqual(
    samples.map((s) => s.__key__),
    ['a', 'sub/b_v2'],
  );
  t.is(textMember(samples[0], 'txt'), 'first "quoted" caption\nsecond, with comma');
  t.is(textMember(samples[1], 'png'), 'BBBB');
  t.is(ctx.counters.get('images_missing'), 1);
  t.is(ctx.counters.get('caption_images_repeated'), 1);
  t.is(warnings.length, 2);
  await t.throwsAsync(
    makeCaptionShards({
      table: join(root, 'table.tsv'),
      images: join(root, 'imgs'),
      imageColumn: 'path',
      captionColumn: 'text',
      pattern: join(root, 'strict-%d.tar'),
      strict: true,
      ctx: createContext({ counters: new Counters(() => {}) }),
    }),
    { message: /cannot read image .*missing\.jpg/ },
  );
  await t.throwsAsync(
    makeCaptionShards({ table: join(root, 'table.tsv'), imageColumn: 'nope', pattern: join(root, 'x-%d.tar') }),
    { message: /has no image column "nope"/ },
  );
});

test('CLIs: inspect-shards prints one JSON object (with --keys) and counters on stderr; make-shards checks its arguments', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const spec = `${sharedData('data/webdataset-testdata')}/{sample.tgz,compressed.tar,missing.tar}`;
  const run = spawnSync(process.execPath, ['pipelines/inspect-shards.ts', spec, '--keys', '2'], { encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const summary = JSON.parse(lines[0]);
  t.like(summary, { shards: 3, samples: 93, extensions: { cls: 90, png: 90, txt: 3 }, keys: ['10', '11'] });
  t.is(summary.bytes, 22988 + 10240);
  t.is(summary.errors.length, 1);
  t.regex(summary.errors[0].message, /missing\.tar: ENOENT/);
  t.regex(run.stderr, /counters: .*samples_read=93 .*shards_failed=1/);

  const usage = spawnSync(process.execPath, ['pipelines/make-shards.ts'], { encoding: 'utf8' });
  t.is(usage.status, 2);
  t.regex(
    usage.stderr,
    /^pipelines\/make-shards\.ts: expected folder\|captions, an input and an OUT_PATTERN \(see --help\)\n$/,
  );
  const help = spawnSync(process.execPath, ['pipelines/make-shards.ts', '--help'], { encoding: 'utf8' });
  t.is(help.status, 0);
  t.regex(help.stdout, /^usage: node pipelines\/make-shards\.ts folder DIR OUT_PATTERN/);
  const bad = spawnSync(
    process.execPath,
    ['pipelines/make-shards.ts', 'folder', join(dir, 'nope'), join(dir, 'x-%d.tar')],
    { encoding: 'utf8' },
  );
  t.is(bad.status, 1);
  t.regex(bad.stderr, /^pipelines\/make-shards\.ts: .*nope/m);
});
