import test from 'ava';
import { mkdtemp, readFile, readdir, writeFile, mkdir, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { sharedData } from '../helpers/shared-data.ts';
import { demoShards, demoVocab } from '../helpers/run-pipeline-child.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip, type ClipModel } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { loadTokenizer, type ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { openaiClipStats } from '../../src/image/presets.ts';
import { Rng } from '../../src/rng.ts';
import { defineEvalSuite } from '../../src/eval/eval-suite.ts';
import { aggregateScore, mainMetric } from '../../src/eval/aggregate-score.ts';
import { runEvalSuite, writeSuiteResults, suiteScalars } from '../../run/eval/run-eval-suite.ts';
import { validateEvalSuite } from '../../run/eval/validate-eval-suite.ts';
import { runZeroShotTask } from '../../run/eval/zero-shot-task.ts';
import { runRetrievalTask } from '../../run/eval/retrieval-task.ts';
import { suiteEvaluation } from '../../run/eval/suite-evaluation.ts';
import { evalSuiteCommand, readEvalSuite } from '../../run/eval/eval-suite-command.ts';
import { saveClipWeights } from '../../src/weights/clip-weights.ts';
import { validateDeclaration } from '../../run/validate.ts';
import { runPipeline } from '../../run/runner.ts';
import type { EvaluatedModel } from '../../run/eval/evaluated-model.ts';

const fixture = (f: string) => fileURLToPath(new URL(`../../fixtures/demo/${f}`, import.meta.url));
const heldout = fixture('heldout-000000.tar');
const demoPrompts = fixture('zero-shot.json');
const prompts = sharedData('data/zero-shot/classnames-and-templates.json');
const cifar = sharedData('data/cifar10-test');
const mnist = sharedData('data/mnist');
const flickr = sharedData('data/flickr8k-1k/captions.txt');

let model: ClipModel;
let tokenizer: ClipTokenizer;
let evaluated: EvaluatedModel;
let tmp = '';

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
  tmp = await mkdtemp(join(tmpdir(), 'eval-suite-'));
  tokenizer = await loadTokenizer({ vocabPath: demoVocab, contextLength: 16 });
  const config = buildClipConfig('tiny', { text: { vocabSize: tokenizer.vocabSize, contextLength: 16 } });
  model = createClip(config, new ParamStore(), new Rng(3));
  evaluated = { model, tokenizer, stats: openaiClipStats, modelName: 'tiny', pretrained: 'random' };
});
test.after.always(async () => {
  model?.dispose();
  shutdownBackend();
  await rm(tmp, { recursive: true, force: true });
});

const suiteInput = {
  name: 'small',
  prompts,
  batchSize: 64,
  tasks: [
    { task: 'zeroshot_classification' as const, dataset: 'cifar10', data: cifar, limit: 200 },
    { task: 'zeroshot_classification' as const, dataset: 'mnist', data: mnist, limit: 200 },
    { task: 'zeroshot_classification' as const, dataset: 'demo-color', data: heldout, prompts: demoPrompts },
    { task: 'zeroshot_retrieval' as const, dataset: 'flickr8k-1k', data: flickr, limit: 60 },
    { task: 'linear_probe' as const, dataset: 'cifar10', data: cifar, limit: 300, maxIterations: 40 },
  ],
};

test.serial(
  'one suite: zero-shot on CIFAR-10, MNIST and shards, retrieval, linear probe; a JSON per dataset and task and the aggregate',
  async (t) => {
    const suite = defineEvalSuite(suiteInput);
    await validateEvalSuite(suite);
    const results = await runEvalSuite(suite, evaluated, { quiet: true });
    t.deepEqual(
      results.records.map((r) => [r.task, r.dataset, r.main_metric]),
      [
        ['zeroshot_classification', 'cifar10', 'acc1'],
        ['zeroshot_classification', 'mnist', 'acc1'],
        ['zeroshot_classification', 'demo-color', 'acc1'],
        ['zeroshot_retrieval', 'flickr8k-1k', 'mean_recall@1'],
        ['linear_probe', 'cifar10', 'lp_acc1'],
      ],
    );
    t.deepEqual(
      results.records.map((r) => r.images ?? r.train_size),
      [200, 200, 500, 59, 177],
      'limit keeps every k-th image (every 50th of 10 000; every 17th of 1000), the shard set is evaluated whole',
    );
    const [c10, , , flickrRecord] = results.records;
    t.is(c10.classes, 10);
    t.is(flickrRecord.texts, 295);
    for (const r of results.records)
      for (const [k, v] of Object.entries(r.metrics))
        if (k !== 'weight_decay' && !k.startsWith('acc5')) t.true(v >= 0 && v <= 1, `${r.dataset} ${k} = ${v}`);
    const mains = results.records.map((r) => r.metrics[r.main_metric as string]);
    t.is(results.aggregate.score, mains.reduce((a, b) => a + b) / mains.length);
    t.deepEqual(aggregateScore(results.records), results.aggregate);

    const dir = join(tmp, 'cell');
    const written = await writeSuiteResults(dir, results);
    t.deepEqual((await readdir(dir)).sort(), [
      'aggregate.json',
      'cifar10_random_tiny_en_linear_probe.json',
      'cifar10_random_tiny_en_zeroshot_classification.json',
      'demo-color_random_tiny_en_zeroshot_classification.json',
      'flickr8k-1k_random_tiny_en_zeroshot_retrieval.json',
      'mnist_random_tiny_en_zeroshot_classification.json',
    ]);
    t.is(written.length, 6);
    const aggregate = JSON.parse(await readFile(join(dir, 'aggregate.json'), 'utf8'));
    t.like(aggregate, { suite: 'small', model: 'tiny', pretrained: 'random', score: results.aggregate.score });
    t.deepEqual(
      aggregate.tasks.map((x: { metric: string }) => x.metric),
      ['acc1', 'acc1', 'acc1', 'mean_recall@1', 'lp_acc1'],
    );
    const scalars = suiteScalars(results);
    t.is(scalars['cifar10/chance'], 0.1);
    t.is(scalars['flickr8k-1k/mean_recall@1'], flickrRecord.metrics['mean_recall@1']);
    t.is(scalars.aggregate, results.aggregate.score);
  },
);

test('main metrics follow DataComp: per-class recall for the unbalanced sets, mean recall@1 for retrieval', (t) => {
  t.is(mainMetric('zeroshot_classification', 'imagenet'), 'acc1');
  for (const d of ['oxfordpets', 'flowers102', 'vtab/caltech101', 'fgvc_aircraft', 'vtab/pets'])
    t.is(mainMetric('zeroshot_classification', d), 'mean_per_class_recall', d);
  t.is(mainMetric('zeroshot_retrieval', 'mscoco'), 'mean_recall@1');
  t.is(mainMetric('linear_probe', 'cifar10'), 'lp_acc1');
  const rec = (dataset: string, metrics: Record<string, number>, main?: string) => ({
    dataset,
    model: 'm',
    pretrained: 'p',
    task: 'zeroshot_classification' as const,
    metrics,
    language: 'en',
    ...(main ? { main_metric: main } : {}),
  });
  const agg = aggregateScore([rec('cifar10', { acc1: 0.5, acc5: 0.9 }), rec('x', { acc1: 0.1, acc5: 0.3 }, 'acc5')]);
  t.is(agg.score, (0.5 + 0.3) / 2);
});

test('a suite declaration is checked field by field', (t) => {
  t.throws(() => defineEvalSuite({ tasks: [] }), { message: 'evaluation suite.tasks must be a non-empty list' });
  t.throws(() => defineEvalSuite({ tasks: [{ task: 'zero-shot', dataset: 'a', data: 'b' }] }), {
    message: /tasks\[0\]\.task must be one of zeroshot_classification, zeroshot_retrieval, linear_probe/,
  });
  t.throws(() => defineEvalSuite({ tasks: [{ task: 'zeroshot_retrieval', dataset: 'a', data: 'b', prompts: 'p' }] }), {
    message: /tasks\[0\]: unknown field "prompts" for zeroshot_retrieval/,
  });
  t.throws(
    () => defineEvalSuite({ tasks: [{ task: 'linear_probe', dataset: 'a', data: 'b', split: [0.5, 0.5, 0.5] }] }),
    {
      message: /tasks\[0\]\.split must be three positive proportions summing to 1/,
    },
  );
  t.throws(() => defineEvalSuite({ tasks: [{ task: 'linear_probe', data: 'b' }] }), {
    message: 'evaluation suite.tasks[0].dataset is required',
  });
  t.throws(
    () =>
      defineEvalSuite({
        tasks: [
          { task: 'zeroshot_classification', dataset: 'a', data: 'b' },
          { task: 'zeroshot_classification', dataset: 'a', data: 'c' },
        ],
      }),
    { message: /tasks\[1\]: a second zeroshot_classification task on dataset "a"/ },
  );
});

test('start-up validation names the task and what is wrong, without evaluating anything', async (t) => {
  const check = (task: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    validateEvalSuite(defineEvalSuite({ name: 's', prompts, ...extra, tasks: [task] }));
  const zs = { task: 'zeroshot_classification', dataset: 'cifar10', data: cifar };
  await t.notThrowsAsync(check(zs));
  await t.throwsAsync(check({ ...zs, data: '/nonexistent/cifar' }), {
    message: 'evaluation suite "s" tasks[0] (zeroshot_classification cifar10): /nonexistent/cifar does not exist',
  });
  await t.throwsAsync(check({ ...zs, dataset: 'svhn' }), {
    message: new RegExp(
      `tasks\\[0\\] \\(zeroshot_classification svhn\\): zero-shot prompts: no dataset "svhn" in .*classnames-and-templates\\.json`,
    ),
  });
  await t.throwsAsync(check(zs, { prompts: undefined }), { message: /no prompts file/ });
  await t.throwsAsync(check({ ...zs, promptsKey: 'cifar100' }), {
    message: /has 10 class folders but the prompts name 100 classes/,
  });
  await t.throwsAsync(check({ ...zs, data: '/nonexistent/eval-{000000..000002}.tar' }), {
    message: /3 of 3 shard\(s\) of \/nonexistent\/eval-\{000000\.\.000002\}\.tar do not exist/,
  });
  await t.throwsAsync(check({ task: 'linear_probe', dataset: 'mnist', data: mnist }), {
    message: /\(linear_probe mnist\): .*mnist: MNIST IDX files need class names/,
  });
  await t.notThrowsAsync(check({ task: 'linear_probe', dataset: 'mnist', data: mnist, promptsKey: 'mnist' }));
  await t.throwsAsync(check({ task: 'zeroshot_retrieval', dataset: 'flickr', data: cifar }), {
    message: /is not a retrieval set/,
  });
  const bad = join(tmp, 'bad-prompts.json');
  await writeFile(bad, '{"cifar10": ');
  await t.throwsAsync(check({ ...zs, prompts: bad }), {
    message: new RegExp(`${bad}: is not valid JSON|${bad} is not valid JSON`),
  });
});

async function badImageFolder(): Promise<string> {
  const root = join(tmp, 'bad-images');
  const files = await readdir(join(cifar, 'cat'));
  for (const cls of ['airplane', 'cat']) {
    await mkdir(join(root, cls), { recursive: true });
    for (const f of files.slice(0, 5)) await copyFile(join(cifar, cls, f), join(root, cls, f));
  }
  await writeFile(join(root, 'cat', 'empty.jpg'), new Uint8Array(0));
  await writeFile(join(root, 'cat', 'notes.jpg'), 'this is not an image\n');
  await writeFile(
    join(root, 'airplane', 'huge.png'),
    await sharp({ create: { width: 8000, height: 6000, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toBuffer(),
  );
  await mkdir(join(root, 'airplane', 'folder.jpg'));
  return root;
}

test.serial(
  'bad images (empty, not an image, over the pixel limit, a directory) are skipped, counted and named',
  async (t) => {
    const root = await badImageFolder();
    const p = join(tmp, 'two.json');
    await writeFile(p, JSON.stringify({ two: { classes: ['airplane', 'cat'], templates: ['a photo of a {}.'] } }));
    const { record, result } = await runZeroShotTask(
      { task: 'zeroshot_classification', dataset: 'two', data: root, prompts: p },
      evaluated,
      { batchSize: 4, quiet: true },
    );
    t.is(record.images, 10);
    t.is(result.labels.length, 10);
    const skipped = record.skipped_images as { count: number; reasons: Record<string, number>; examples: string[] };
    t.is(skipped.count, 4);
    t.deepEqual(skipped.reasons, { 'too-large': 1, unreadable: 1, empty: 1, unsupported: 1 });
    const named = skipped.examples.join('\n');
    for (const f of ['airplane/huge.png', 'airplane/folder.jpg: unreadable: EISDIR', 'cat/empty.jpg', 'cat/notes.jpg'])
      t.true(named.includes(join(root, f)), `${f} named in:\n${named}`);
  },
);

test.serial(
  'retrieval: rows without a comma or image name and empty captions are left out and counted; a bad image is skipped',
  async (t) => {
    const dir = join(tmp, 'flickr-bad');
    await mkdir(join(dir, 'images'), { recursive: true });
    const lines = (await readFile(flickr, 'utf8')).trim().split('\n');
    const rows = lines.slice(1, 31); // 6 images x 5 captions
    for (const name of new Set(rows.map((r) => r.slice(0, r.indexOf(',')))))
      await copyFile(join(flickr, '..', 'images', name), join(dir, 'images', name));
    await writeFile(join(dir, 'images', 'broken.jpg'), 'not a jpeg');
    await writeFile(
      join(dir, 'captions.txt'),
      [
        lines[0],
        ...rows,
        'a row without a comma',
        ',,,',
        `${rows[0].slice(0, rows[0].indexOf(','))},`,
        'broken.jpg,a broken image',
        '',
      ].join('\n'),
    );
    const { record, result } = await runRetrievalTask(
      { task: 'zeroshot_retrieval', dataset: 'flickr-bad', data: dir },
      evaluated,
      { batchSize: 4, quiet: true },
    );
    t.is(result.images, 6);
    t.is(result.texts, 30, 'the empty caption is not a query, the broken image takes its caption with it');
    t.deepEqual((record.dropped_rows as { counts: Record<string, number> }).counts, {
      malformed_rows: 2,
      empty_captions: 1,
    });
    t.is((record.skipped_images as { count: number }).count, 1);
    t.regex((record.skipped_images as { examples: string[] }).examples[0], /broken\.jpg: unsupported: /);
  },
);

test.serial(
  'a training run evaluates the suite periodically; bad suite settings stop it before the first step',
  async (t) => {
    const out = join(tmp, 'run');
    const declaration = (evaluate: ReturnType<typeof suiteEvaluation>, o = out) =>
      validateDeclaration({
        name: 'suite-hook',
        data: { shards: demoShards, decodeConcurrency: 2 },
        model: { preset: 'tiny', normalisation: 'openai' },
        text: { vocabPath: demoVocab, contextLength: 16 },
        supervision: { name: 'clip', options: {} },
        optim: { batchSize: 8, microBatchSize: 0, steps: 2, warmupSteps: 1, totalSteps: 2 },
        eval: { every: 1, atEnd: true, evaluate },
        checkpoint: { every: 0, keep: 1 },
        logging: { out: o, progress: 'none' },
        backend: { name: 'wasm' },
      });
    const hook = suiteEvaluation({
      name: 'during-training',
      batchSize: 32,
      tasks: [
        { task: 'zeroshot_classification', dataset: 'demo-color', data: heldout, prompts: demoPrompts, limit: 64 },
        { task: 'zeroshot_retrieval', dataset: 'demo-captions', data: heldout, limit: 64 },
      ],
    });
    const summary = await runPipeline(declaration(hook), { log: () => {} });
    t.deepEqual(
      summary.evals.map((e) => e.step),
      [1, 2],
    );
    const last = summary.evals[1].results;
    t.is(last['demo-color/chance'], 1 / 8);
    t.is(last.aggregate, (last['demo-color/acc1'] + last['demo-captions/mean_recall@1']) / 2);
    const metrics = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.deepEqual(
      metrics.filter((m) => m.type === 'eval').map((m) => Object.keys(m.results).includes('aggregate')),
      [true, true],
    );
    t.deepEqual((await readdir(join(out, 'eval', 'step-2'))).sort(), [
      'aggregate.json',
      'demo-captions_suite-hook-step2_tiny_en_zeroshot_retrieval.json',
      'demo-color_suite-hook-step2_tiny_en_zeroshot_classification.json',
    ]);

    const broken = suiteEvaluation({
      prompts: demoPrompts,
      tasks: [{ task: 'zeroshot_classification', dataset: 'demo-texture', data: heldout }],
    });
    const out2 = join(tmp, 'run-broken');
    await t.throwsAsync(runPipeline(declaration(broken, out2), { log: () => {} }), {
      message:
        /evaluation suite "eval" tasks\[0\] \(zeroshot_classification demo-texture\): zero-shot prompts: no dataset "demo-texture"/,
    });
    await t.throwsAsync(readFile(join(out2, 'metrics.jsonl'), 'utf8'), { code: 'ENOENT' }, 'nothing was trained');
  },
);

test.serial(
  'pipelines/eval-suite.ts: a suite file (paths relative to it) evaluates a weights file into one directory',
  async (t) => {
    const dir = join(tmp, 'suite-file');
    await mkdir(dir, { recursive: true });
    const weights = join(dir, 'tiny.safetensors');
    await saveClipWeights(model, weights);
    const file = join(dir, 'suite.json');
    await writeFile(
      file,
      JSON.stringify({
        name: 'file-suite',
        prompts: relative(dir, demoPrompts),
        batchSize: 50,
        tasks: [
          { task: 'zeroshot_classification', dataset: 'demo-color', data: relative(dir, heldout), limit: 100 },
          { task: 'zeroshot_retrieval', dataset: 'demo-captions', data: relative(dir, heldout), limit: 100 },
        ],
      }),
    );
    const suite = await readEvalSuite(file);
    t.is(suite.prompts, demoPrompts);
    t.is(suite.tasks[0].data, heldout);
    const out = join(dir, 'results');
    const results = await evalSuiteCommand([
      '--suite',
      file,
      '--weights',
      weights,
      '--vocab',
      demoVocab,
      '--out',
      out,
      '--quiet',
    ]);
    t.deepEqual(
      results.records.map((r) => [r.dataset, r.images, r.pretrained]),
      [
        ['demo-color', 100, 'tiny'],
        ['demo-captions', 100, 'tiny'],
      ],
    );
    t.is((await readdir(out)).length, 3);
    await writeFile(
      file,
      JSON.stringify({ tasks: [{ task: 'zeroshot_classification', dataset: 'x', data: 'nowhere' }] }),
    );
    await t.throwsAsync(evalSuiteCommand(['--suite', file, '--weights', weights]), {
      message: `evaluation suite "eval" tasks[0] (zeroshot_classification x): no prompts file (set the task's or the suite's "prompts")`,
    });
  },
);
