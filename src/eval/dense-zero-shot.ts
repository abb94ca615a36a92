// FILIP's dense zero-shot scoring (docs/methods.md, "Evaluation"): for each class, encode every prompt into mapped,
// L2-normalised text tokens [T, d], average the prompts position-wise, divide by the Frobenius norm of that
// [T, d] matrix; score(image, class) = mean over the image's patch tokens of the max over the class's tokens.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../models/clip.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import type { DenseScorer } from '../supervision/types.ts';
import { fillTemplate } from './datasets/zero-shot-prompts.ts';
import type { BatchScorer } from './zero-shot.ts';

/**
 * Class token matrices [C, T, d] (and, when the scorer excludes padding, a token mask [C, T]: the union over prompts).
 */
export function denseClassTokens(
  model: ClipModel,
  tokenizer: ClipTokenizer,
  dense: DenseScorer,
  classes: readonly string[],
  templates: readonly string[],
): { tokens: tf.Tensor3D; mask?: tf.Tensor2D } {
  const perClass: tf.Tensor2D[] = [];
  const masks: tf.Tensor1D[] = [];
  for (const className of classes) {
    tf.tidy(() => {
      const ids = tf.tensor2d(
        tokenizer.encodeBatch(templates.map((t) => fillTemplate(t, className))),
        [templates.length, tokenizer.contextLength],
        'int32',
      );
      const { tokens, mask } = dense.textTokens(model, ids);
      const mean = tf.mean(tokens, 0) as tf.Tensor2D;
      perClass.push(tf.keep(tf.div(mean, tf.norm(mean)) as tf.Tensor2D));
      if (mask) masks.push(tf.keep(tf.max(mask, 0) as tf.Tensor1D));
    });
  }
  const tokens = tf.stack(perClass) as tf.Tensor3D;
  const mask = masks.length > 0 ? (tf.stack(masks) as tf.Tensor2D) : undefined;
  tf.dispose([...perClass, ...masks]);
  return mask ? { tokens, mask } : { tokens };
}

/** A zero-shot scorer (for evaluateZeroShot's `scorer` option) that uses the dense token-wise scores. */
export function denseZeroShotScorer(model: ClipModel, tokenizer: ClipTokenizer, dense: DenseScorer) {
  return (classes: readonly string[], templates: readonly string[]): { score: BatchScorer; dispose(): void } => {
    const cls = denseClassTokens(model, tokenizer, dense, classes, templates);
    return {
      score: (images) => tf.tidy(() => dense.scores(dense.imageTokens(model, images), cls.tokens, cls.mask)),
      dispose: () => {
        cls.tokens.dispose();
        cls.mask?.dispose();
      },
    };
  };
}
