import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import { loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { denseClassTokens, denseZeroShotScorer } from '../../src/eval/dense-zero-shot.ts';
import { fillTemplate } from '../../src/eval/datasets/zero-shot-prompts.ts';
import { Rng } from '../../src/rng.ts';

test.before(async () => {
  await initBackend({ backend: 'cpu', quiet: true });
});
test.after.always(() => {
  shutdownBackend();
});

test('FILIP dense zero-shot scores match a direct computation of the spec formula', async (t) => {
  const tokenizer = await loadTokenizer({
    vocabPath: new URL('../../fixtures/demo/vocab.txt.gz', import.meta.url).pathname,
    contextLength: 16,
  });
  const model = createClip(
    buildClipConfig('tiny', { text: { vocabSize: tokenizer.vocabSize, contextLength: 16 } }),
    new ParamStore(),
    new Rng(3),
  );
  const filip = createSupervision('filip', { denseDim: 8 });
  filip.addHeads(model, new Rng(4));
  const dense = filip.dense!;
  const classes = ['red', 'blue', 'green'],
    templates = ['a {} shape.', 'a photo of something {}.'];
  const images = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;

  const scorer = denseZeroShotScorer(model, tokenizer, dense)(classes, templates);
  const scores = scorer.score(images).arraySync() as number[][];
  scorer.dispose();

  // Direct: class matrix = position-wise mean of the prompts' normalised tokens / its Frobenius norm.
  const imageTokens = dense.imageTokens(model, images).arraySync() as number[][][];
  const expected = imageTokens.map((patches) =>
    classes.map((c) => {
      const ids = tf.tensor2d(
        tokenizer.encodeBatch(templates.map((tp) => fillTemplate(tp, c))),
        [templates.length, 16],
        'int32',
      );
      const prompts = dense.textTokens(model, ids).tokens.arraySync() as number[][][];
      const T = prompts[0].length,
        d = prompts[0][0].length;
      const mean = Array.from({ length: T }, (_, q) =>
        Array.from({ length: d }, (_, k) => prompts.reduce((s, p) => s + p[q][k], 0) / prompts.length),
      );
      const frob = Math.sqrt(mean.flat().reduce((s, v) => s + v * v, 0));
      const per = patches.map((x) => Math.max(...mean.map((y) => y.reduce((s, v, k) => s + v * x[k], 0) / frob)));
      return per.reduce((a, b) => a + b, 0) / per.length;
    }),
  );
  for (let i = 0; i < 2; i++)
    for (let c = 0; c < 3; c++)
      t.true(Math.abs(scores[i][c] - expected[i][c]) < 1e-5, `score[${i}][${c}] ${scores[i][c]} vs ${expected[i][c]}`);
  const { tokens } = denseClassTokens(model, tokenizer, dense, classes, templates);
  t.deepEqual(tokens.shape, [3, 16, 8]);
  tokens.dispose();
  images.dispose();
});
