// Parity of the supervisions against the PyTorch references (reference/supervision_reference.py and, for SigLIP,
// reference/siglip_reference.py; fixtures under fixtures/parity/supervision/). The model is replaced by a mock whose
// encoders return fixed tensors held in tf.Variables, so features()+loss() run unchanged and the gradients with respect
// to the encoder outputs (embeddings, pooled features, dense tokens, word features), the heads and the logit scales are
// compared with PyTorch's. Tolerance: per tensor max|ours − ref| / max|ref| ≤ 1e-5; a gradient that is analytically
// zero (the bias of a Linear followed by BN; reference max|g| < 1e-12) must be below 1e-5 × the step's largest gradient
// (loss parts: |ours − ref| ≤ 1e-5·max(|ref|, 1)), on the cpu backend (float32 vs. the float64 reference on the same
// float32 inputs).
import test from 'ava';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import type { ClipConfig } from '../../src/models/presets.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import type { Supervision, SupervisedModel, TrainBatch, TextView } from '../../src/supervision/types.ts';
import { filipSelectTokens, normalizeTextEmbedding } from '../../src/supervision/losses.ts';
import type { NnQueueState } from '../../src/supervision/nn-queue.ts';

interface Arr {
  shape: number[];
  data: number[];
}
interface Step {
  parts: Record<string, number>;
  total: number;
  grads: Record<string, Arr>;
  nnIndices?: { mlm: number[]; eda: number[] };
  selected?: { image: number[][]; text: number[][] };
  queueAfter?: { pointer: number; bank: Arr };
}
interface Case {
  supervision: string;
  options: Record<string, unknown>;
  inputs: Record<string, Arr>;
  queue?: { pointer: number; bank: Arr };
  stepInputs?: Array<Record<string, Arr>>;
  steps: Step[];
}

const fixture = (name: string): Case =>
  JSON.parse(readFileSync(new URL(`../../fixtures/parity/supervision/${name}.json`, import.meta.url), 'utf8'));

// Dimensions of the reference (supervision_reference.py): E, FEAT = vision width, W, CTX, V.
const DIMS = { embed: 8, visionWidth: 10, textWidth: 12, context: 10, vocab: 30 };
const TOL = 1e-5;

// PARITY_BACKEND=wasm runs the same checks on the wasm backend (the default cpu backend is the documented one).
test.before(async () => {
  await initBackend({
    backend: (process.env.PARITY_BACKEND as 'cpu' | 'wasm' | undefined) ?? 'cpu',
    threads: 1,
    quiet: true,
  });
});
test.after.always(() => {
  shutdownBackend();
});

function mockConfig(): ClipConfig {
  return {
    embedDim: DIMS.embed,
    vision: {
      type: 'vit',
      imageSize: 9,
      patchSize: 3,
      width: DIMS.visionWidth,
      layers: 1,
      heads: 1,
      freezePatchEmbedding: true,
    },
    text: {
      vocabSize: DIMS.vocab,
      contextLength: DIMS.context,
      width: DIMS.textWidth,
      layers: 1,
      heads: 1,
      projectionBias: false,
    },
  };
}

/** A model whose encoders return clones of per-view variables (so gradients reach them), keyed by input tensor. */
class MockModel implements SupervisedModel {
  config = mockConfig();
  store = new ParamStore();
  logitScale: tf.Variable;
  encoderVars = new Map<string, tf.Variable>();
  private imageView = new Map<number, number>();
  private textView = new Map<number, string>();
  constructor() {
    this.logitScale = this.store.add('logit_scale', tf.scalar(Math.log(1 / 0.07)), { kind: 'logit_scale' });
  }

  setEncoderOutputs(values: Record<string, Arr>): void {
    for (const v of this.encoderVars.values()) v.dispose();
    this.encoderVars.clear();
    for (const [k, a] of Object.entries(values)) {
      if (/^(image\d+|text)\./.test(k)) this.encoderVars.set(k, tf.variable(tf.tensor(a.data, a.shape), true));
    }
  }
  batch(views: number, texts: readonly TextView[], ids: Record<string, Arr>): TrainBatch {
    this.imageView.clear();
    this.textView.clear();
    const b = [...this.encoderVars.values()][0].shape[0];
    const images = Array.from({ length: views }, (_, v) => {
      const t = tf.zeros([b, 1, 1, 3]) as tf.Tensor4D;
      this.imageView.set(t.id, v);
      return t;
    });
    const out: TrainBatch = { images, texts: {} };
    for (const view of texts) {
      const a = ids[`ids.${view}`];
      const t = (
        a ? tf.tensor2d(a.data, a.shape as [number, number], 'int32') : tf.zeros([b, DIMS.context], 'int32')
      ) as tf.Tensor2D;
      this.textView.set(t.id, view);
      out.texts[view] = t;
    }
    if (ids['ids.mlmLabels'])
      out.texts.mlmLabels = tf.tensor2d(
        ids['ids.mlmLabels'].data,
        ids['ids.mlmLabels'].shape as [number, number],
        'int32',
      );
    return out;
  }
  private get(k: string): tf.Tensor {
    const v = this.encoderVars.get(k);
    return v ? tf.clone(v) : tf.zeros([1]);
  }
  encodeImage(images: tf.Tensor4D) {
    const v = this.imageView.get(images.id);
    if (v === undefined) throw new Error('mock: unknown image view tensor');
    return {
      embedding: this.get(`image${v}.embedding`) as tf.Tensor2D,
      feature: this.get(`image${v}.feature`) as tf.Tensor2D,
      tokens: this.get(`image${v}.tokens`) as tf.Tensor3D,
    };
  }
  encodeText(ids: tf.Tensor2D) {
    const view = this.textView.get(ids.id);
    if (view === undefined) throw new Error('mock: unknown text view tensor');
    return {
      embedding: this.get(`text.${view}.embedding`) as tf.Tensor2D,
      wordFeatures: this.get(`text.${view}.wordFeatures`) as tf.Tensor3D,
    };
  }
}

/** Head weights and logit scales from the fixture (torch layout → ours). */
function loadParams(model: MockModel, inputs: Record<string, Arr>): void {
  for (const [name, a] of Object.entries(inputs)) {
    if (!model.store.has(name)) continue;
    let t = tf.tensor(a.data, a.shape);
    if (model.store.meta(name).torchLayout === 'linear') {
      const tt = tf.transpose(t);
      t.dispose();
      t = tt;
    }
    model.store.assign(name, t.dataSync(), t.shape);
    t.dispose();
  }
}

function relErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

function compareStep(
  t: any,
  label: string,
  step: Step,
  parts: Record<string, number>,
  total: number,
  grads: Record<string, tf.Tensor>,
  nameOf: Map<string, string>,
  store: ParamStore,
) {
  t.deepEqual(Object.keys(parts).sort(), Object.keys(step.parts).sort(), `${label}: part names`);
  for (const [k, ref] of Object.entries(step.parts)) {
    t.true(
      Math.abs(parts[k] - ref) <= TOL * Math.max(Math.abs(ref), 1),
      `${label}: part ${k} ours ${parts[k]} ref ${ref}`,
    );
  }
  t.true(
    Math.abs(total - step.total) <= TOL * Math.max(Math.abs(step.total), 1),
    `${label}: total ours ${total} ref ${step.total}`,
  );
  let compared = 0;
  let worst = 0;
  const stepScale = Math.max(...Object.values(step.grads).map((a) => Math.max(0, ...a.data.map(Math.abs))));
  for (const [name, ref] of Object.entries(step.grads)) {
    const key = nameOf.get(name) ?? name;
    const g = grads[key];
    let ours: ArrayLike<number> = g ? g.dataSync() : new Float32Array(ref.data.length);
    if (g && store.has(name) && store.meta(name).torchLayout === 'linear')
      ours = tf.tidy(() => tf.transpose(g).dataSync());
    const refMax = Math.max(0, ...ref.data.map(Math.abs));
    if (refMax < 1e-12) {
      const oursMax = Math.max(0, ...Array.from(ours, Math.abs));
      t.true(
        oursMax <= TOL * stepScale,
        `${label}: gradient of ${name} should vanish: max ${oursMax.toExponential(2)}`,
      );
    } else {
      const e = relErr(ours, ref.data);
      worst = Math.max(worst, e);
      t.true(e <= TOL, `${label}: gradient of ${name}: relative error ${e.toExponential(2)}`);
    }
    compared++;
  }
  t.true(compared >= 3, `${label}: compared ${compared} gradients`);
  t.log(`${label}: ${compared} gradients, worst relative error ${worst.toExponential(2)}`);
}

/** Runs features + loss + gradients for one step; returns values plus the kept features. */
function runStep(model: MockModel, sup: Supervision, batch: TrainBatch) {
  const vars: tf.Variable[] = [...model.store.trainableVariables(), ...model.encoderVars.values()];
  const nameOf = new Map<string, string>();
  for (const e of model.store.entries()) nameOf.set(e.name, e.variable.name);
  for (const [k, v] of model.encoderVars) nameOf.set(k, v.name);
  let features: Record<string, tf.Tensor> = {};
  let partTensors: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    features = sup.features(model, batch, { training: true });
    const out = sup.loss(features, model);
    for (const f of Object.values(features)) tf.keep(f);
    for (const p of Object.values(out.parts)) tf.keep(p);
    partTensors = out.parts;
    return out.total;
  }, vars);
  const parts = Object.fromEntries(Object.entries(partTensors).map(([k, v]) => [k, v.dataSync()[0]]));
  return { total: value.dataSync()[0], parts, grads, features, nameOf };
}

function caseOptions(c: Case): Record<string, unknown> {
  const o = c.options as Record<string, any>;
  switch (c.supervision) {
    case 'clip':
    case 'siglip':
      return {};
    case 'slip':
      return { temperature: o.temperature, mlpHidden: o.mlpHidden, mlpOut: o.mlpOut, headGhostSize: o.ghostSize };
    case 'filip':
      return { topK: o.topK, denseDim: o.denseDim, textPadding: o.textPadding };
    default: {
      const d: Record<string, unknown> = {
        headGhostSize: o.ghostSize,
        projectorHidden: o.projectorHidden,
        projectorOut: o.projectorHidden,
        predictorHidden: o.predictorHidden,
        queueSize: o.queueSize,
      };
      if (c.supervision === 'defilip') Object.assign(d, { topK: o.topK, denseDim: o.denseDim });
      return d;
    }
  }
}

const VIEWS: Record<string, number> = { clip: 1, declip: 2, slip: 3, filip: 1, defilip: 2, siglip: 1 };

function checkSelection(t: any, label: string, features: Record<string, tf.Tensor>, step: Step, topK: number) {
  if (!step.selected) return;
  const sel = filipSelectTokens(
    features.denseImage as tf.Tensor3D,
    features.denseText as tf.Tensor3D,
    features.textMask ? { topK, textMask: features.textMask as tf.Tensor2D } : { topK },
  );
  // Index sets are compared as sets; with a text mask only the real tokens (padding slots that fill up short captions
  // are interchangeable and masked out of the max).
  const b = step.selected.image.length;
  const imgDense = features.denseImage as tf.Tensor3D;
  // Recompute index sets from the selected token vectors: match each selected row back to its token index.
  const match = (tokens: tf.Tensor3D, selected: tf.Tensor3D) => {
    const all = tokens.arraySync();
    const s = selected.arraySync();
    return s.map((rows, i) =>
      rows.map((row) => all[i].findIndex((tok) => tok.every((v, j) => v === row[j]))).sort((p, q) => p - q),
    );
  };
  const ours = {
    image: match(imgDense, sel.imageSelected),
    text: match(features.denseText as tf.Tensor3D, sel.textSelected),
  };
  const mask = features.textMask ? (features.textMask as tf.Tensor2D).arraySync() : null;
  for (let i = 0; i < b; i++) {
    t.deepEqual(
      ours.image[i],
      [...step.selected.image[i]].sort((p, q) => p - q),
      `${label}: selected patches of sample ${i}`,
    );
    const real = (ids: number[]) => ids.filter((q) => !mask || mask[i][q] === 1).sort((p, q) => p - q);
    t.deepEqual(real(ours.text[i]), real(step.selected.text[i]), `${label}: selected text tokens of sample ${i}`);
  }
}

const CASES = ['clip', 'clip-capped', 'slip', 'filip', 'filip-masked', 'declip', 'defilip', 'siglip', 'siglip-aligned'];
for (const name of CASES) {
  test.serial(`parity with PyTorch: ${name}`, (t) => {
    const c = fixture(name);
    const sup = createSupervision(c.supervision, caseOptions(c));
    const model = new MockModel();
    sup.addHeads(model, new Rng(7));
    loadParams(model, c.inputs);
    if (c.queue) {
      const q = sup.getState().nnQueue as NnQueueState;
      sup.setState({
        nnQueue: { size: q.size, dim: q.dim, pointer: c.queue.pointer, bank: Float32Array.from(c.queue.bank.data) },
      });
    }
    c.steps.forEach((step, s) => {
      const inputs = c.stepInputs ? c.stepInputs[s] : c.inputs;
      model.setEncoderOutputs(inputs);
      const batch = model.batch(VIEWS[c.supervision], sup.textViews, inputs);
      const bankBefore = c.queue ? (sup.getState().nnQueue as NnQueueState).bank : null;
      sup.beforeStep(model);
      const r = runStep(model, sup, batch);
      compareStep(t, `${name} step ${s}`, step, r.parts, r.total, r.grads, r.nameOf, model.store);
      if (step.nnIndices && bankBefore) {
        // The neighbours in the features are the (re-normalised) snapshot rows the reference picked.
        for (const view of ['mlm', 'eda'] as const) {
          const key = view === 'mlm' ? 'nnMlm' : 'nnEda';
          const dim = DIMS.embed;
          const rows = step.nnIndices[view].flatMap((i) => [...bankBefore.subarray(i * dim, (i + 1) * dim)]);
          const expected = tf.tidy(() =>
            normalizeTextEmbedding(tf.tensor2d(rows, [rows.length / dim, dim])).dataSync(),
          );
          t.true(
            relErr(r.features[key].dataSync(), expected) < 1e-6,
            `${name} step ${s}: ${key} rows are the reference's neighbours`,
          );
        }
      }
      checkSelection(t, `${name} step ${s}`, r.features, step, (c.options as any).topK);
      sup.afterStep(model, r.features);
      if (step.queueAfter) {
        const q = sup.getState().nnQueue as NnQueueState;
        t.is(q.pointer, step.queueAfter.pointer, `${name} step ${s}: queue pointer`);
        t.true(relErr(q.bank, step.queueAfter.bank.data) < 1e-6, `${name} step ${s}: queue contents after enqueue`);
      }
      for (const g of Object.values(r.grads)) g.dispose();
      for (const f of Object.values(r.features)) f.dispose();
      for (const im of batch.images) im.dispose();
      for (const x of Object.values(batch.texts)) x?.dispose();
    });
    sup.dispose();
    model.store.dispose();
  });
}
