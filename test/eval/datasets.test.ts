import test from 'ava';
import { mkdtemp, writeFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sharedData } from '../helpers/shared-data.ts';
import { parseIdx, mnistDataset } from '../../src/eval/datasets/mnist-idx.ts';
import { classFolderDataset } from '../../src/eval/datasets/class-folder.ts';
import { captionCsvDataset, cocoCaptionsDataset } from '../../src/eval/datasets/caption-table.ts';
import { loadZeroShotPrompts, fillTemplate } from '../../src/eval/datasets/zero-shot-prompts.ts';
import { resultFileName, resultJson, formatResultsTable } from '../../src/eval/results.ts';
import type { BenchmarkResult } from '../../src/eval/results.ts';

test('IDX parsing: hand-made file, gzip, and errors', (t) => {
  const raw = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
  t.deepEqual(parseIdx(raw).dims, [2, 3]);
  t.deepEqual([...parseIdx(new Uint8Array(gzipSync(raw))).data], [1, 2, 3, 4, 5, 6]);
  t.throws(() => parseIdx(raw.subarray(0, 15)), { message: /truncated/ });
  t.throws(() => parseIdx(new Uint8Array([1, 2, 3, 4])), { message: /bad magic/ });
});

test('MNIST errors name the file and say what is wrong: truncated gzip, a 10-byte file, a short header', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-bad-'));
  const labels = sharedData('data/mnist/t10k-labels-idx1-ubyte.gz');
  const gz = await readFile(sharedData('data/mnist/t10k-images-idx3-ubyte.gz'));
  const truncated = join(dir, 't10k-images-idx3-ubyte.gz');
  await writeFile(truncated, gz.subarray(0, 50_000));
  await t.throwsAsync(mnistDataset(truncated, labels, [...'0123456789']), {
    message: `${truncated}: truncated gzip data (unexpected end of file; 50000 compressed bytes)`,
  });
  const tiny = join(dir, 'ten-bytes-idx3-ubyte');
  await writeFile(tiny, new Uint8Array([0, 0, 8, 3, 0, 0, 39, 16, 0, 0]));
  await t.throwsAsync(mnistDataset(tiny, labels, [...'0123456789']), {
    message: `${tiny}: truncated header (10 bytes; a rank-3 IDX header needs 16)`,
  });
  const garbage = join(dir, 'garbage-idx3-ubyte.gz');
  await writeFile(garbage, new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  await t.throwsAsync(mnistDataset(garbage, labels, [...'0123456789']), {
    message: new RegExp(`^${garbage.replaceAll('.', '\\.')}: (truncated|corrupt) gzip data`),
  });
  await t.throwsAsync(mnistDataset(sharedData('data/mnist/t10k-images-idx3-ubyte.gz'), labels, [...'01234']), {
    message: /t10k-labels-idx1-ubyte\.gz: label 7 of image 0 but only 5 class names are given/,
  });
});

test(
  'prompts files: a JSON syntax error, a missing entry, an empty class list and a template without {} name the ' +
    'file',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'prompts-'));
    const p = join(dir, 'prompts.json');
    await writeFile(p, '{"cifar10": {"classes": ["a", "b"], "templates": ["a photo of a {}."],}}');
    await t.throwsAsync(loadZeroShotPrompts(p, 'cifar10'), {
      message: new RegExp(`^zero-shot prompts: ${p.replaceAll('.', '\\.')} is not valid JSON \\(`),
    });
    await writeFile(p, JSON.stringify({ cifar10: { classes: [], templates: ['{}'] } }));
    await t.throwsAsync(loadZeroShotPrompts(p, 'cifar10'), {
      message: `zero-shot prompts: ${p} "cifar10" needs a non-empty "classes" array of strings`,
    });
    await writeFile(p, JSON.stringify({ cifar10: { classes: ['a'], templates: ['a photo.'] } }));
    await t.throwsAsync(loadZeroShotPrompts(p, 'cifar10'), {
      message: `zero-shot prompts: ${p} "cifar10" templates[0] "a photo." has no {} (or {0}) for the class name`,
    });
    await t.throwsAsync(loadZeroShotPrompts(p, 'mnist'), {
      message: `zero-shot prompts: no dataset "mnist" in ${p} (has: cifar10)`,
    });
  },
);

test('MNIST test set from ../shared reads 10000 labelled 28x28 images', async (t) => {
  const ds = await mnistDataset(
    sharedData('data/mnist/t10k-images-idx3-ubyte.gz'),
    sharedData('data/mnist/t10k-labels-idx1-ubyte.gz'),
    [...'0123456789'],
  );
  t.is(ds.size, 10000);
  const counts = new Array(10).fill(0);
  let first;
  for await (const item of ds.items()) {
    counts[item.label]++;
    first ??= item;
  }
  t.is(
    counts.reduce((a, b) => a + b),
    10000,
  );
  t.is(counts[7], 1028); // MNIST t10k class counts are well known: 7 -> 1028, 1 -> 1135
  t.is(counts[1], 1135);
  t.is(first!.label, 7);
  t.like(first!.image, { kind: 'raw', width: 28, height: 28, channels: 1 });
});

test('class-folder dataset over CIFAR-10 test: 10 sorted classes, 10000 images', async (t) => {
  const ds = await classFolderDataset(sharedData('data/cifar10-test'), 'cifar10');
  t.deepEqual(ds.classes, ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
  t.is(ds.size, 10000);
  const it = ds.items()[Symbol.asyncIterator]();
  const first = (await it.next()).value!;
  t.is(first.key, 'airplane/0000.jpg');
  t.is(first.label, 0);
  await t.throwsAsync(classFolderDataset('/nonexistent/dir'), { message: /not a directory/ });
});

test(
  'caption CSV: quoted fields; a row without a comma, a `,,,` row and an empty caption are left out, counted ' +
    'and named by line',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'captions-'));
    const csv = join(dir, 'captions.csv');
    await writeFile(
      csv,
      'image,caption\na.jpg,"a dog, running"\nb.jpg,"say ""hi""\nthere"\r\n' +
        'no comma here\n,,,\nc.jpg,   \nc.jpg,plain\n',
    );
    const ds = await captionCsvDataset(csv, { name: 'tiny' });
    const items = [];
    for await (const item of ds.items()) items.push(item);
    t.deepEqual(
      items.map((i) => [i.key, i.captions]),
      [
        ['a.jpg', ['a dog, running']],
        ['b.jpg', ['say "hi"\nthere']],
        ['c.jpg', ['plain']],
      ],
    );
    t.deepEqual(items[0].image, { kind: 'file', path: join(dir, 'images', 'a.jpg') });
    t.deepEqual(ds.dropped?.counts, { malformed_rows: 2, empty_captions: 1 });
    t.deepEqual(ds.dropped?.examples, [
      `${csv}:5: 1 field(s), the header has 2`,
      `${csv}:6: no image name`,
      `${csv}:7: empty caption for c.jpg`,
    ]);
    await writeFile(csv, 'image,caption\n,,,\n');
    await t.throwsAsync(captionCsvDataset(csv), { message: `${csv}: no usable (image, caption) rows` });
    await t.throwsAsync(captionCsvDataset(join(dir, 'missing.csv')), { message: /missing\.csv: cannot read .*ENOENT/ });
  },
);

test('Flickr-style CSV groups the 5 captions of each of the 1000 images', async (t) => {
  const ds = await captionCsvDataset(sharedData('data/flickr8k-1k/captions.txt'), { name: 'flickr8k-1k' });
  t.is(ds.size, 1000);
  let n = 0;
  for await (const item of ds.items()) {
    t.is(item.captions.length, 5);
    n++;
    if (n >= 3) break;
  }
});

test('COCO captions JSON and zero-shot prompt files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'coco-'));
  await mkdir(join(dir, 'img'));
  await writeFile(join(dir, 'img', '1.jpg'), 'x');
  await writeFile(
    join(dir, 'c.json'),
    JSON.stringify({
      images: [{ id: 1, file_name: '1.jpg' }],
      annotations: [
        { image_id: 1, caption: ' a cat ' },
        { image_id: 1, caption: 'a kitten' },
      ],
    }),
  );
  const ds = await cocoCaptionsDataset(join(dir, 'c.json'), join(dir, 'img'));
  const items = [];
  for await (const item of ds.items()) items.push(item);
  t.deepEqual(
    items.map((i) => i.captions),
    [['a cat', 'a kitten']],
  );
  const prompts = await loadZeroShotPrompts(sharedData('data/zero-shot/classnames-and-templates.json'), 'imagenet');
  t.is(prompts.classes.length, 1000);
  t.is(prompts.templates.length, 80);
  await t.throwsAsync(loadZeroShotPrompts(sharedData('data/zero-shot/classnames-and-templates.json')), {
    message: /choose one with --dataset/,
  });
  t.is(fillTemplate('a photo of a {}.', 'dog'), 'a photo of a dog.');
  t.is(fillTemplate('itap of a {0}.', 'dog'), 'itap of a dog.');
});

test('results are CLIP_benchmark-shaped, NaN kept as NaN', (t) => {
  const r: BenchmarkResult = {
    dataset: 'cifar10',
    model: 'tiny-vit',
    pretrained: 'run1',
    task: 'zeroshot_classification',
    metrics: { acc1: 0.5, acc5: Number.NaN, mean_per_class_recall: 0.25 },
    language: 'en',
  };
  t.is(resultFileName(r), 'cifar10_run1_tiny-vit_en_zeroshot_classification.json');
  t.regex(resultJson(r), /"acc5": NaN/);
  const table = formatResultsTable([r]);
  t.regex(table, /cifar10\s+tiny-vit\s+zeroshot_classification\s+0\.5000\s+nan\s+0\.2500/);
});
