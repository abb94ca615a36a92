// One pipeline, five supervisions: the same data stages (readShards -> decodeViews -> tokenizeViews -> assemble) and
// the same tiny CLIP run unchanged; only the supervision's declared views change what flows. For each supervision: the
// batch carries exactly the declared views, features are per-sample, loss parts are the declared ones and finite,
// gradients reach the towers, the heads and the logit scale(s), and afterStep/getState behave (NN queue advances).
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { viewPresets } from '../../src/image/presets.ts';
import { loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import type { ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { assembleTrainBatch } from '../../src/train/assemble.ts';
import type { HostSample, TextKey } from '../../src/train/assemble.ts';
import { collect, createContext, runStages } from '../../stages/core/stage.ts';
import { readShards } from '../../stages/webdataset/read-shards.ts';
import { decodeViews, createImagePool } from '../../stages/image/decode-views.ts';
import type { ImagePool } from '../../stages/image/decode-views.ts';
import { tokenizeViews } from '../../stages/text/tokenize-views.ts';
import { take } from '../../stages/core/take.ts';
import { createSupervision, supervisionNames } from '../../src/supervision/index.ts';
import type { NnQueueState } from '../../src/supervision/nn-queue.ts';

const demoShard = new URL('../../fixtures/demo/train-000000.tar', import.meta.url).pathname;
const demoVocab = new URL('../../fixtures/demo/vocab.txt.gz', import.meta.url).pathname;
const N = 8;
const CONTEXT = 32;
const IMAGE = 32; // tiny-vit input size

// Small head sizes; weights, temperatures and views are the seed's defaults.
const smallHeads: Record<string, Record<string, unknown>> = {
  clip: {},
  declip: { projectorHidden: 32, projectorOut: 32, predictorHidden: 16, queueSize: 64, headGhostSize: 4 },
  slip: { mlpHidden: 32, mlpOut: 16 },
  filip: { denseDim: 16, topK: 4 },
  defilip: {
    projectorHidden: 32,
    projectorOut: 32,
    predictorHidden: 16,
    queueSize: 64,
    headGhostSize: 4,
    denseDim: 16,
    topK: 4,
  },
};
const expectedParts: Record<string, string[]> = {
  clip: ['clip'],
  declip: ['mlm', 'mv', 'nn', 'simsiam'],
  slip: ['clip', 'simclr'],
  filip: ['clip', 'filip'],
  defilip: ['filip', 'mlm', 'mv', 'nn', 'simsiam'],
  siglip: ['siglip'],
};
const expectedHeads: Record<string, string[]> = {
  clip: [],
  declip: ['projector.linear1.weight', 'predictor.layer2.weight', 'text_label_predictor.weight'],
  slip: ['predictor_sim.linear1.weight', 'predictor_sim.linear3.weight'],
  filip: ['image_mapping.weight', 'text_mapping.weight', 'logit_scale_dense'],
  defilip: ['projector.linear1.weight', 'text_label_predictor.weight', 'image_mapping.weight', 'logit_scale_dense'],
  siglip: ['logit_bias'],
};

let tokenizer: ClipTokenizer;
let pool: ImagePool;

test.before(async () => {
  await initBackend({
    backend: (process.env.SWAP_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'wasm',
    threads: 1,
    quiet: true,
  });
  tokenizer = await loadTokenizer({ variant: 'declip', vocabPath: demoVocab, contextLength: CONTEXT });
  pool = createImagePool({ size: 1 });
});
test.after.always(async () => {
  await pool?.close();
  shutdownBackend();
});

for (const name of supervisionNames) {
  test.serial(`swap supervision on one pipeline: ${name}`, async (t) => {
    const sup = createSupervision(name, smallHeads[name]);
    // ---- the data path: identical code for every supervision, parameterised only by the declared views ----
    const views = sup.imageViews.map((v) => viewPresets[v](IMAGE));
    const textKeys: TextKey[] = sup.textViews.flatMap((v) => (v === 'mlm' ? (['mlm', 'mlmLabels'] as TextKey[]) : [v]));
    const ctx = createContext();
    const t0 = performance.now();
    const samples = await runStages(
      ctx,
      readShards({ shards: demoShard, seed: 1, ctx }),
      [
        take(N),
        decodeViews({ views, seed: 1, pool }),
        tokenizeViews({ tokenizer, views: [...sup.textViews], seed: 1 }),
      ],
      collect<HostSample>(),
    );
    const t1 = performance.now();
    const batch = assembleTrainBatch(samples, views.length, textKeys);
    t.is(batch.images.length, sup.imageViews.length);
    for (const im of batch.images) t.deepEqual(im.shape, [N, IMAGE, IMAGE, 3]);
    t.deepEqual(Object.keys(batch.texts).sort(), [...textKeys].sort());

    // ---- the model: identical for every supervision ----
    const config = buildClipConfig('tiny', { text: { vocabSize: tokenizer.vocabSize, contextLength: CONTEXT } });
    const model = createClip(config, new ParamStore(), new Rng(11));
    const before = new Set(model.store.names());
    sup.addHeads(model, new Rng(12));
    const added = model.store.names().filter((n) => !before.has(n));
    for (const h of expectedHeads[name]) t.true(added.includes(h), `${name}: head parameter ${h} added`);
    if (name === 'clip') t.is(added.length, 0);

    const t2 = performance.now();
    sup.beforeStep(model);
    let features: Record<string, tf.Tensor> = {};
    let parts: Record<string, tf.Scalar> = {};
    const vars = model.store.trainableVariables();
    const { value, grads } = tf.variableGrads(() => {
      features = sup.features(model, batch, { training: true });
      const out = sup.loss(features, model);
      for (const f of Object.values(features)) tf.keep(f);
      for (const p of Object.values(out.parts)) tf.keep(p);
      parts = out.parts;
      return out.total;
    }, vars);
    const t3 = performance.now();
    if (process.env.SWAP_TIMING)
      console.log(
        name,
        tokenizer.vocabSize,
        'data',
        (t1 - t0).toFixed(0),
        'model',
        (t2 - t1).toFixed(0),
        'step',
        (t3 - t2).toFixed(0),
      );
    for (const [k, f] of Object.entries(features)) t.is(f.shape[0], N, `${name}: feature ${k} is per-sample`);
    t.deepEqual(Object.keys(parts).sort(), expectedParts[name]);
    for (const [k, p] of Object.entries(parts)) t.true(Number.isFinite(p.dataSync()[0]), `${name}: part ${k} finite`);
    t.true(Number.isFinite(value.dataSync()[0]));

    const byName = new Map(model.store.trainableEntries().map((e) => [e.variable.name, e.name]));
    const nonzero = new Set<string>();
    for (const [vname, g] of Object.entries(grads)) {
      const d = g.dataSync();
      t.true(d.every(Number.isFinite), `${name}: gradient of ${byName.get(vname)} finite`);
      if (d.some((x) => x !== 0)) nonzero.add(byName.get(vname)!);
    }
    for (const p of [
      'visual.transformer.resblocks.0.attn.in_proj_weight',
      'transformer.resblocks.0.attn.in_proj_weight',
      ...expectedHeads[name],
    ]) {
      t.true(nonzero.has(p), `${name}: ${p} receives gradient`);
    }
    // FILIP's global CLIP term has weight 0: the global projections get no loss gradient (docs/methods.md, "FILIP").
    for (const p of ['visual.proj', 'text_projection'])
      t.is(nonzero.has(p), name !== 'filip', `${name}: ${p} gradient`);
    if (name !== 'filip') t.true(nonzero.has('logit_scale'), `${name}: logit_scale receives gradient`);

    // afterStep: DeCLIP/DeFILIP enqueue eda then mlm text embeddings (2N rows).
    const pointerBefore = (sup.getState().nnQueue as NnQueueState | undefined)?.pointer;
    sup.afterStep(model, features);
    const q = sup.getState().nnQueue as NnQueueState | undefined;
    if (name === 'declip' || name === 'defilip') t.is(q!.pointer, (pointerBefore! + 2 * N) % 64);
    else t.is(q, undefined);

    for (const g of Object.values(grads)) g.dispose();
    for (const f of Object.values(features)) f.dispose();
    for (const p of Object.values(parts)) p.dispose();
    for (const x of [...batch.images, ...Object.values(batch.texts)]) x?.dispose();
    value.dispose();
    sup.dispose();
    model.dispose();
  });
}
