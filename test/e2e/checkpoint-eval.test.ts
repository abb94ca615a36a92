// A checkpoint carries its model: the stand-alone evaluation of a run's checkpoint gives exactly the numbers of the
// run's own evaluation, with no flag but --weights (the architecture with its heads, the tokenizer and the image
// normalisation all come from the checkpoint). The run deliberately differs from every stand-alone default: the demo
// vocabulary (not OpenAI's), context 24, ImageNet statistics (not OpenAI's), and towers whose head counts are not
// width / 64.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateDeclaration } from '../../run/validate.ts';
import { runPipeline } from '../../run/runner.ts';
import { zeroShotEvaluation } from '../../run/zero-shot-hook.ts';
import { declaredModelConfig } from '../../run/model-config.ts';
import { zeroShotCommand as zeroShot } from '../../run/eval/zero-shot-command.ts';
import { modelPresetNames } from '../../src/models/presets.ts';
import { shutdownBackend } from '../../src/backend.ts';
import { loadEvalModel } from '../../src/eval/load-model.ts';
import { imageEmbeddings, textEmbeddings } from '../../src/models/embed.ts';
import type { ClipModel } from '../../src/models/clip.ts';
import type { ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { Rng } from '../../src/rng.ts';
import { modelRecordMetadata, readModelRecord } from '../../src/weights/model-record.ts';
import { testRecord } from '../helpers/model-record.ts';
import type { DeepPartial, PipelineDeclaration } from '../../run/declaration.ts';
import { createContext, runStages } from '../../stages/core/stage.ts';
import { take } from '../../stages/core/take.ts';
import { readShards } from '../../stages/webdataset/read-shards.ts';
import { writeShards } from '../../stages/webdataset/write-shards.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/demo/${name}`, import.meta.url));
const prompts = fixture('zero-shot.json');

// the first 160 held-out images (every colour class) keep the two evaluations per case short
const work = await mkdtemp(join(tmpdir(), 'ckeval-data-'));
const heldout = join(work, 'heldout-000000.tar');
test.before(async () => {
  const ctx = createContext();
  await runStages(
    ctx,
    readShards({ shards: fixture('heldout-000000.tar'), ctx }),
    [take(160)],
    writeShards({ pattern: join(work, 'heldout-%06d.tar') }),
  );
});
test.after.always(async () => {
  shutdownBackend();
  await rm(work, { recursive: true, force: true });
});

type Case = [string, DeepPartial<PipelineDeclaration>['model'], ('clip' | 'filip')?];
const cases: Case[] = [
  ['tiny', { preset: 'tiny' }], // ViT and text towers with 2 heads of width 32
  ['tiny-rn', { preset: 'tiny-rn' }], // a ResNet attention pool of 4 heads over 256 channels
  ['tiny, curtailed text', { preset: 'tiny', text: { layers: 1, width: 128 } }], // 4 text heads follow the width
  // FILIP's run scores zero-shot token-wise: the stand-alone evaluation does so too, with no --dense flag
  ['tiny, FILIP', { preset: 'tiny' }, 'filip'],
];

/** Embeddings of fixed inputs (seeded pixels, three captions): a probe far more sensitive than accuracy. */
async function probe(model: ClipModel, tokenizer: ClipTokenizer): Promise<Record<string, number>> {
  const size = model.config.vision.imageSize;
  const rng = new Rng(5);
  const pixels = Float32Array.from({ length: 4 * size * size * 3 }, () => rng.normal());
  const captions = ['a red star near the top on grey', 'a blue circle', 'two green squares'];
  const values = [
    ...(await imageEmbeddings(model, pixels, 4)),
    ...(await textEmbeddings(model, tokenizer.encodeBatch(captions), captions.length)),
  ];
  return Object.fromEntries(values.map((v, i) => [`probe/${i}`, v]));
}
const probeOnly = (results: Record<string, number>) =>
  Object.fromEntries(Object.entries(results).filter(([k]) => k.startsWith('probe/')));

for (const [label, model, method = 'clip'] of cases) {
  test.serial(`${label}: the stand-alone evaluation of the checkpoint equals the run's own evaluation`, async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'ckeval-'));
    try {
      const zeroShot160 = zeroShotEvaluation({ shards: heldout, prompts, dataset: 'demo-color', batchSize: 100 });
      const d = validateDeclaration({
        name: 'ckeval',
        data: { shards: fixture('train-000000.tar') },
        model: { normalisation: 'imagenet', ...model },
        text: { variant: 'declip', vocabPath: fixture('vocab.txt.gz'), contextLength: 24 },
        supervision: { name: method },
        optim: { batchSize: 16, microBatchSize: 0, steps: 2, totalSteps: 2, warmupSteps: 1 },
        eval: {
          every: 0,
          atEnd: true,
          evaluate: async (ctx) => ({
            ...(await zeroShot160(ctx)),
            ...(await probe(ctx.model, ctx.tokenizer)),
          }),
        },
        checkpoint: { every: 0, keep: 1 },
        logging: { out, progress: 'none' },
        backend: { name: 'wasm' },
      });
      const summary = await runPipeline(d, { log: () => {} });
      const inTraining = summary.evals.at(-1)!;
      t.is(inTraining.step, 2);
      const { record, result } = await zeroShot([
        ...['--weights', out, '--data', heldout, '--dataset', 'demo-color', '--prompts', prompts],
        ...['--batch-size', '100', '--out', join(out, 'results'), '--backend', 'wasm', '--quiet'],
      ]);
      t.deepEqual(
        {
          acc1: record.metrics.acc1,
          acc5: record.metrics.acc5,
          mean_per_class_recall: record.metrics.mean_per_class_recall,
        },
        {
          acc1: inTraining.results['demo-color/acc1'],
          acc5: inTraining.results['demo-color/acc5'],
          mean_per_class_recall: inTraining.results['demo-color/mean_per_class_recall'],
        },
      );
      if (method === 'filip') {
        // the token-wise path really ran (its scores differ from the global embeddings' on the same checkpoint)
        const global = await zeroShot([
          ...['--weights', out, '--data', heldout, '--dataset', 'demo-color', '--prompts', prompts, '--no-dense'],
          ...['--batch-size', '100', '--out', join(out, 'results-global'), '--backend', 'wasm', '--quiet'],
        ]);
        t.notDeepEqual(Array.from(global.result.margins), Array.from(result.margins));
      }
      // the loader builds the very model that was trained: the same embeddings, bit for bit
      const loaded = await loadEvalModel({ weights: out });
      try {
        t.deepEqual(await probe(loaded.model, loaded.tokenizer), probeOnly(inTraining.results));
      } finally {
        loaded.model.dispose();
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
}

test('every preset: the record a checkpoint writes gives the loader exactly the architecture the run built', (t) => {
  // The full-size presets are checked at the level of the record (building and evaluating a ViT-B/32 or RN101 twice
  // takes minutes on this machine): the config a run builds, written as checkpoint metadata and read back, is the
  // config the stand-alone loader constructs, heads and ResNet block lists included.
  for (const preset of modelPresetNames) {
    const config = declaredModelConfig(validateDeclaration({ name: 't', model: { preset } }), 49409);
    const record = { ...testRecord(), config, preset };
    t.deepEqual(readModelRecord(modelRecordMetadata(record), 'x'), record, preset);
  }
});
