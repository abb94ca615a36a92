import test from 'ava';
import { readFile, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { nodeBin, repoRoot } from '../helpers/run-pipeline-child.ts';
import { sharedData } from '../helpers/shared-data.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { saveClipWeights } from '../../src/weights/clip-weights.ts';
import { loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { Rng } from '../../src/rng.ts';
import { runStages, createContext } from '../../stages/core/stage.ts';
import { writeShards } from '../../stages/webdataset/write-shards.ts';
import { captionCsvDataset } from '../../src/eval/datasets/caption-table.ts';
import { zeroShotCommand as zeroShot } from '../../run/eval/zero-shot-command.ts';
import { retrievalCommand as retrieval } from '../../run/eval/retrieval-command.ts';
import { linearProbeCommand as linearProbe } from '../../run/eval/linear-probe-command.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';

const fixtures = new URL('../../fixtures/', import.meta.url).pathname;
const demoVocab = join(fixtures, 'demo/vocab.txt.gz');
let tinyWeights = '';
let out = '';

test.before(async () => {
  await initBackend({ quiet: true });
  out = await mkdtemp(join(tmpdir(), 'eval-'));
  const tokenizer = await loadTokenizer({ vocabPath: demoVocab, contextLength: 32 });
  const config = buildClipConfig('tiny', { text: { vocabSize: tokenizer.vocabSize, contextLength: 32 } });
  const model = createClip(config, new ParamStore(), new Rng(11));
  tinyWeights = join(out, 'tiny.safetensors');
  await saveClipWeights(model, tinyWeights);
  model.dispose();
});
test.after.always(() => {
  shutdownBackend();
});

test.serial("zero-shot on CIFAR-10 reproduces the PyTorch reference model's predictions", async (t) => {
  const expected = JSON.parse(await readFile(join(fixtures, 'parity/zero-shot/expected.json'), 'utf8'));
  const { record, result } = await zeroShot([
    '--weights',
    join(fixtures, 'parity/zero-shot/tiny-clip-cifar10.safetensors'),
    '--data',
    sharedData('data/cifar10-test'),
    '--dataset',
    'cifar10',
    '--prompts',
    sharedData('data/zero-shot/classnames-and-templates.json'),
    '--vocab',
    demoVocab,
    '--normalize',
    'openai',
    '--out',
    out,
    '--quiet',
  ]);
  t.is(result.predictions.length, expected.count);
  let disagreements = 0,
    nearTies = 0;
  for (let i = 0; i < expected.count; i++) {
    if (result.predictions[i] === expected.predictions[i]) continue;
    if (expected.margins[i] < 1e-5) nearTies++;
    else disagreements++;
  }
  t.is(disagreements, 0, `${disagreements} predictions differ from PyTorch on images that are not near-ties`);
  t.true(nearTies <= 3, `${nearTies} near-tie disagreements`);
  t.true(
    Math.abs(record.metrics.acc1 - expected.metrics.acc1) <= nearTies / expected.count + 1e-6,
    `acc1 ${record.metrics.acc1} vs PyTorch ${expected.metrics.acc1}`,
  );
  t.true(expected.metrics.acc1 > 0.2, 'the reference model is well above chance (10%)');
  const written = JSON.parse(
    await readFile(join(out, 'cifar10_tiny-clip-cifar10_vit-p8-w64-32px_en_zeroshot_classification.json'), 'utf8'),
  );
  t.deepEqual(Object.keys(written).sort(), [
    'classes',
    'dataset',
    'images',
    'language',
    'main_metric',
    'metrics',
    'model',
    'pretrained',
    'task',
    'templates',
  ]);
  t.like(written, { main_metric: 'acc1', images: 10000, classes: 10, templates: 18 });
  t.deepEqual(Object.keys(written.metrics).sort(), ['acc1', 'acc5', 'mean_per_class_recall']);
});

test.serial('retrieval runs end to end on shards of Flickr8k-1k', async (t) => {
  const shardDir = await mkdtemp(join(tmpdir(), 'flickr-shards-'));
  const csv = await captionCsvDataset(sharedData('data/flickr8k-1k/captions.txt'));
  async function* samples(): AsyncGenerator<WdsSample> {
    for await (const item of csv.items()) {
      if (item.image.kind !== 'file') throw new Error('expected image files');
      yield {
        __key__: item.key.replace(/\.jpg$/, ''),
        __url__: '',
        jpg: new Uint8Array(await readFile(item.image.path)),
        txt: new TextEncoder().encode(item.captions.join('\n')),
      };
    }
  }
  await runStages(
    createContext(),
    samples(),
    [],
    writeShards({ pattern: join(shardDir, 'flickr-%06d.tar'), maxCount: 400 }),
  );
  t.is((await readdir(shardDir)).filter((f) => f.endsWith('.tar')).length, 3);
  const { record, result } = await retrieval([
    '--weights',
    tinyWeights,
    '--data',
    join(shardDir, 'flickr-{000000..000002}.tar'),
    '--dataset',
    'flickr8k-1k',
    '--vocab',
    demoVocab,
    '--out',
    out,
    '--quiet',
  ]);
  t.is(result.images, 1000);
  t.is(result.texts, 5000);
  for (const k of [1, 5, 10]) {
    for (const key of [`image_retrieval_recall@${k}`, `text_retrieval_recall@${k}`])
      t.true(record.metrics[key] >= 0 && record.metrics[key] <= 1, key);
  }
  t.true(record.metrics['text_retrieval_recall@10'] >= record.metrics['text_retrieval_recall@1']);
});

test.serial('linear probe runs end to end on CIFAR-10 split into train/val/test', async (t) => {
  const cache = join(out, 'features');
  const args = [
    '--weights',
    tinyWeights,
    '--data',
    sharedData('data/cifar10-test'),
    '--dataset',
    'cifar10',
    '--vocab',
    demoVocab,
    '--limit',
    '2000',
    '--split',
    '0.6,0.2,0.2',
    '--max-iterations',
    '150',
    '--feature-cache',
    cache,
    '--out',
    out,
    '--quiet',
  ];
  const { record } = await linearProbe(args);
  t.true(
    record.metrics.lp_acc1 > 0.15,
    `lp_acc1 ${record.metrics.lp_acc1} should beat chance (0.10) even for random features`,
  );
  t.true(record.metrics.weight_decay > 0);
  t.is(record.test_size, 400);
  t.is((await readdir(cache)).length, 1, 'features cached');
  const again = await linearProbe(args);
  t.is(again.record.metrics.lp_acc1, record.metrics.lp_acc1, 'cached features give the same probe');
});

test.serial('clear errors for bad arguments', async (t) => {
  await t.throwsAsync(zeroShot(['--data', 'x']), { message: /--weights is required/ });
  await t.throwsAsync(
    zeroShot([
      '--weights',
      tinyWeights,
      '--data',
      '/nonexistent',
      '--dataset',
      'demo-color',
      '--vocab',
      demoVocab,
      '--quiet',
    ]),
    { message: /does not exist/ },
  );
  await t.throwsAsync(
    zeroShot([
      '--weights',
      tinyWeights,
      '--data',
      sharedData('data/cifar10-test'),
      '--vocab',
      sharedData('data/clip/bpe_simple_vocab_16e6.txt.gz'),
      '--quiet',
    ]),
    { message: /vocabulary has 49408 ids but the weights' token embedding has/ },
  );
});

// The evaluation entry points answer --help in the one format, and a bad flag is a usage error (exit 2).
for (const name of ['zero-shot', 'retrieval', 'linear-probe', 'embed', 'eval-suite']) {
  test(`pipelines/${name}.ts --help, and a bad flag exits 2 naming it`, (t) => {
    const help = spawnSync(nodeBin, [`pipelines/${name}.ts`, '--help'], { cwd: repoRoot, encoding: 'utf8' });
    t.is(help.status, 0, help.stderr);
    t.true(help.stdout.startsWith(`usage: node pipelines/${name}.ts --`), help.stdout.slice(0, 200));
    t.regex(help.stdout, /\noptions:\n {2}--weights W +a \.safetensors file/);
    t.regex(help.stdout, /\n {2}-h, --help +print this help and exit\n/);
    const bad = spawnSync(nodeBin, [`pipelines/${name}.ts`, '--weigths', 'x'], { cwd: repoRoot, encoding: 'utf8' });
    t.is(bad.status, 2);
    t.is(bad.stderr, `pipelines/${name}.ts: Unknown option '--weigths' (see --help)\n`);
  });
}
