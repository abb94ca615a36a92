// A toy CLIP (linear image tower, embedding-bag text tower, learnable logit scale) and its symmetric InfoNCE
// supervision, small enough for exact gradient checks of the training machinery on the cpu backend.
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../src/nn/params.ts';
import { Rng } from '../../src/rng.ts';
import type { SupervisionLike, TrainBatch } from '../../src/train/contracts.ts';

export interface ToyModel {
  store: ParamStore;
  pixels: number;
  vocab: number;
}

export function createToyModel(seed: number, opts: { pixels?: number; vocab?: number; embed?: number } = {}): ToyModel {
  const pixels = opts.pixels ?? 4 * 4 * 3;
  const vocab = opts.vocab ?? 16;
  const embed = opts.embed ?? 8;
  const rng = new Rng(seed);
  const normal = (shape: number[], std: number) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal(0, std)),
      shape,
    );
  const store = new ParamStore();
  store.add('visual.proj', normal([pixels, embed], 0.2), { kind: 'weight' });
  store.add('visual.bias', normal([embed], 0.1), { kind: 'bias' });
  store.add('token_embedding.weight', normal([vocab, embed], 0.5), { kind: 'embedding' });
  store.add('logit_scale', tf.scalar(Math.log(1 / 0.07)), { kind: 'logit_scale' });
  return { store, pixels, vocab };
}

export function toyBatch(seed: number, n: number, model: ToyModel, context = 5): TrainBatch {
  const rng = new Rng(seed);
  const side = Math.round(Math.sqrt(model.pixels / 3));
  const images = tf.tensor4d(
    Float32Array.from({ length: n * model.pixels }, () => rng.normal()),
    [n, side, side, 3],
  );
  const raw = tf.tensor2d(
    Int32Array.from({ length: n * context }, () => rng.int(model.vocab)),
    [n, context],
    'int32',
  );
  return { images: [images], texts: { raw } };
}

export function toyClipSupervision(): SupervisionLike<ToyModel> & { afterSteps: number } {
  return {
    name: 'toy-clip',
    afterSteps: 0,
    features(model, batch) {
      return tf.tidy(() => {
        const x = batch.images[0];
        const flat = tf.reshape(x, [x.shape[0], -1]);
        const image = tf.add(tf.matMul(flat, model.store.get('visual.proj')), model.store.get('visual.bias'));
        const text = tf.mean(tf.gather(model.store.get('token_embedding.weight'), batch.texts.raw!), 1);
        return { image, text };
      });
    },
    loss(f, model) {
      return tf.tidy(() => {
        const u = tf.div(f.image, tf.norm(f.image, 2, 1, true));
        const v = tf.div(f.text, tf.norm(f.text, 2, 1, true));
        const s = tf.minimum(tf.exp(model.store.get('logit_scale')), 100);
        const logits = tf.mul(tf.matMul(u, v, false, true), s);
        const n = logits.shape[0];
        const labels = tf.cast(tf.oneHot(tf.range(0, n, 1, 'int32'), n), 'float32');
        const i2t = tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        const t2i = tf.losses.softmaxCrossEntropy(labels, tf.transpose(logits)) as tf.Scalar;
        const total = tf.mul(tf.add(i2t, t2i), 0.5) as tf.Scalar;
        return { total, parts: { i2t, t2i } };
      });
    },
    beforeStep(model) {
      tf.tidy(() => {
        const v = model.store.get('logit_scale');
        v.assign(tf.clipByValue(v, 0, Math.log(100)));
      });
    },
    afterStep() {
      this.afterSteps++;
    },
    getState() {
      return { afterSteps: this.afterSteps };
    },
    setState(s) {
      this.afterSteps = s.afterSteps as number;
    },
  };
}
