import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import { computeGradients } from '../../src/train/grad-cache.ts';
import { deriveRng } from '../../src/rng.ts';

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
test.after.always(() => {
  shutdownBackend();
});

// The real tiny ViT CLIP and the real CLIP supervision (symmetric InfoNCE with the learnable, clamped logit scale):
// gradient-cache accumulation over micro-batches of 4 equals the full batch of 16.
test.serial('gradient cache on the real tiny CLIP: micro-batches of 4 == the full batch of 16', (t) => {
  const store = new ParamStore();
  const model = createClip(
    buildClipConfig('tiny', { text: { vocabSize: 120, contextLength: 12 } }),
    store,
    deriveRng(3, 'm'),
  );
  const sup = createSupervision('clip');
  const n = 16;
  const batch = tf.tidy(() => ({
    images: [tf.randomNormal([n, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D],
    texts: {
      raw: tf.concat(
        [tf.fill([n, 1], 118, 'int32'), tf.randomUniform([n, 10], 1, 100, 'int32', 5), tf.fill([n, 1], 119, 'int32')],
        1,
      ) as tf.Tensor2D,
    },
  }));
  const full = computeGradients(model, sup, batch, 0);
  const micro = computeGradients(model, sup, batch, 4);
  t.true(Math.abs(full.loss - micro.loss) < 1e-5, `${full.loss} vs ${micro.loss}`);
  t.deepEqual(Object.keys(micro.grads).sort(), Object.keys(full.grads).sort());
  let compared = 0;
  for (const [name, g] of Object.entries(full.grads)) {
    const a = g.dataSync();
    const b = micro.grads[name].dataSync();
    let diff = 0;
    let scale = 0;
    a.forEach((x, i) => {
      diff = Math.max(diff, Math.abs(x - b[i]));
      scale = Math.max(scale, Math.abs(x));
    });
    t.true(diff <= 2e-4 * scale + 1e-7, `${name}: max diff ${diff} vs max |g| ${scale}`);
    compared++;
  }
  t.true(compared > 20 && 'logit_scale' in full.grads);
  for (const r of [full, micro]) {
    tf.dispose(Object.values(r.grads));
    tf.dispose(Object.values(r.features));
  }
  tf.dispose([...batch.images, batch.texts.raw]);
  model.dispose();
});
