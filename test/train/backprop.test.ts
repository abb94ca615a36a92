import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import { variableGradsFrugal } from '../../src/train/backprop.ts';
import { deriveRng } from '../../src/rng.ts';

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
test.after.always(() => {
  shutdownBackend();
});

// The frugal backward runs tfjs's own gradient functions in tfjs's order, only freeing tensors earlier: on the real
// tiny CLIP it must give exactly tf.variableGrads' loss and gradients, and leak nothing (bench/vitb32-step.ts measures
// the memory it saves on a ViT-B/32 forward+backward).
test.serial('variableGradsFrugal == tf.variableGrads on the tiny CLIP, no leaks', (t) => {
  const store = new ParamStore();
  const model = createClip(
    buildClipConfig('tiny', { text: { vocabSize: 120, contextLength: 12 } }),
    store,
    deriveRng(4, 'm'),
  );
  const sup = createSupervision('clip');
  const n = 8;
  const batch = tf.tidy(() => ({
    images: [tf.randomNormal([n, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D],
    texts: {
      raw: tf.concat(
        [tf.fill([n, 1], 118, 'int32'), tf.randomUniform([n, 10], 1, 100, 'int32', 9), tf.fill([n, 1], 119, 'int32')],
        1,
      ) as tf.Tensor2D,
    },
  }));
  const vars = store.trainableEntries().map((e) => e.variable);
  const loss = () => tf.tidy(() => sup.loss(sup.features(model, batch, { training: true }), model).total);
  const before = tf.memory().numTensors;
  let stock!: ReturnType<typeof tf.variableGrads>, frugal!: ReturnType<typeof variableGradsFrugal>;
  stock = tf.variableGrads(loss, vars);
  frugal = variableGradsFrugal(loss, vars);
  t.is(frugal.value.dataSync()[0], stock.value.dataSync()[0]);
  t.deepEqual(Object.keys(frugal.grads).sort(), Object.keys(stock.grads).sort());
  t.true(Object.keys(stock.grads).length > 20);
  for (const [name, g] of Object.entries(stock.grads)) t.deepEqual(frugal.grads[name]!.dataSync(), g.dataSync(), name);
  for (const r of [stock, frugal]) {
    r.value.dispose();
    tf.dispose(Object.values(r.grads));
  }
  t.is(tf.memory().numTensors, before);
  tf.dispose([...batch.images, batch.texts.raw]);
});

test.serial('variableGradsFrugal: a loss that uses no variable is one clear error', (t) => {
  const v = tf.variable(tf.ones([2]));
  const before = tf.memory().numTensors;
  t.throws(() => variableGradsFrugal(() => tf.sum(tf.ones([3])) as tf.Scalar, [v]), {
    message: /Cannot find a connection/,
  });
  t.is(tf.memory().numTensors, before);
  v.dispose();
});
