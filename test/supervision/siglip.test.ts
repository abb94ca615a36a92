// SigLIP unit tests: open_clip's defaults, what addHeads does to the model (temperature init, the learnable bias and
// its optimiser metadata), the temperature clamp, the loss on hand-computable inputs, and one-line option errors.
// Parity of the loss and its gradients with PyTorch is in parity.test.ts.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import type { SupervisedModel } from '../../src/supervision/types.ts';
import { sigmoidPairwiseLoss } from '../../src/supervision/siglip.ts';

test.before(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});
test.after.always(() => {
  shutdownBackend();
});

const softplus = (x: number) => Math.log1p(Math.exp(x));

/** The part of a model SigLIP touches outside the loss: its store and its CLIP-initialised temperature. */
function modelStub(): SupervisedModel & { dispose(): void } {
  const store = new ParamStore();
  const logitScale = store.add('logit_scale', tf.scalar(Math.log(1 / 0.07)), { kind: 'logit_scale' });
  const unused = () => {
    throw new Error('not needed by these tests');
  };
  return {
    config: undefined as never,
    store,
    logitScale,
    encodeImage: unused,
    encodeText: unused,
    dispose: () => store.dispose(),
  };
}

test.serial("defaults are open_clip's: t' init ln 10, bias -10, no forward cap, t' clamped into [0, ln 100]", (t) => {
  const sup = createSupervision('siglip');
  t.deepEqual(sup.imageViews, ['clip']);
  t.deepEqual(sup.textViews, ['raw']);
  t.deepEqual(sup.options, {
    logitScaleInit: Math.log(10),
    logitBiasInit: -10,
    maxLogitScale: null,
    logitScaleRange: [0, Math.log(100)],
  });
});

test.serial('addHeads sets the temperature, adds a trainable logit_bias without weight decay', (t) => {
  const model = modelStub();
  const before = model.store.entries().length;
  const sup = createSupervision('siglip', { logitBiasInit: -7 });
  sup.addHeads(model, new Rng(2));
  t.is(model.store.entries().length, before + 1);
  t.true(Math.abs(model.logitScale.dataSync()[0] - Math.log(10)) < 1e-6);
  const bias = model.store.entries().find((e) => e.name === 'logit_bias')!;
  t.is(bias.variable.dataSync()[0], -7);
  t.deepEqual(bias.variable.shape, []);
  t.like(bias.meta, { trainable: true, decay: false });
  t.throws(() => sup.addHeads(model, new Rng(2)), { message: /addHeads was already called/ });
  sup.dispose();
  model.dispose();
});

test.serial('the temperature parameter is clamped into [0, ln 100] around the step; null leaves it', (t) => {
  const model = modelStub();
  const sup = createSupervision('siglip');
  sup.addHeads(model, new Rng(2));
  model.logitScale.assign(tf.scalar(5));
  sup.afterStep(model, {});
  t.true(Math.abs(model.logitScale.dataSync()[0] - Math.log(100)) < 1e-6);
  model.logitScale.assign(tf.scalar(-1));
  sup.beforeStep(model);
  t.is(model.logitScale.dataSync()[0], 0);
  const free = createSupervision('siglip', { logitScaleRange: null });
  const other = modelStub();
  free.addHeads(other, new Rng(2));
  other.logitScale.assign(tf.scalar(5));
  free.afterStep(other, {});
  t.is(other.logitScale.dataSync()[0], 5);
  for (const m of [model, other]) m.dispose();
});

test.serial('loss: every pair is a binary decision, summed and divided by the batch; gradients by hand', (t) => {
  // u = v = I (2x2): logits = s*I + b. With s = 2, b = -1: positives 1, negatives -1; every -log sigmoid(z*l) term is
  // softplus(-1), four terms over n = 2.
  const u = tf.eye(2) as tf.Tensor2D;
  const s = tf.scalar(2);
  const b = tf.scalar(-1);
  const loss = sigmoidPairwiseLoss(u, u, s, b);
  t.true(Math.abs(loss.dataSync()[0] - 2 * softplus(-1)) < 1e-6);
  // dL/db = (1/n) sum -z sigmoid(-z l): positives -sigmoid(-1), negatives +sigmoid(-1): they cancel.
  // dL/ds = (1/n) sum -z sigmoid(-z l) (u.v): only the positives have u.v = 1 -> -sigmoid(-1).
  const [ds, db] = tf.grads((scale: tf.Tensor, bias: tf.Tensor) => sigmoidPairwiseLoss(u, u, scale as tf.Scalar, bias))(
    [s, b],
  );
  const sig = 1 / (1 + Math.exp(1));
  t.true(Math.abs(db.dataSync()[0]) < 1e-7);
  t.true(Math.abs(ds.dataSync()[0] + sig) < 1e-6);
  t.throws(() => sigmoidPairwiseLoss(u, tf.ones([3, 2]) as tf.Tensor2D, s, b), { message: /2 image rows but 3 text/ });
});

test.serial('options: unknown or ill-typed ones are one-line errors', (t) => {
  t.throws(() => createSupervision('siglip', { logitBias: -10 }), {
    message: /supervision siglip: unknown option "logitBias" \(known: logitScaleInit, logitBiasInit/,
  });
  t.throws(() => createSupervision('siglip', { logitBiasInit: '-10' }), {
    message: /option "logitBiasInit" has the wrong type/,
  });
  t.throws(() => createSupervision('siglip', { logitScaleRange: [5, 1] }), {
    message: /logitScaleRange must be null or/,
  });
  t.notThrows(() => createSupervision('siglip', { maxLogitScale: 100 }));
});
