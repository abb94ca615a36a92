// Zero-shot classifier weights from prompt ensembles (CLIP / CLIP_benchmark): for each class, encode every
// template filled with the class name, L2-normalise each, average, L2-normalise again. Result: [dim, classes].
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../models/clip.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { fillTemplate } from './datasets/zero-shot-prompts.ts';
import { l2Normalize } from '../nn/l2-normalize.ts';

export interface ClassifierOptions {
  /** Prompts encoded per forward pass. */
  batchSize?: number;
  onClass?: (index: number, total: number) => void;
}

/** Token ids of every prompt of one class, row-major [templates, context]. */
function classPrompts(tokenizer: ClipTokenizer, className: string, templates: readonly string[]): tf.Tensor2D {
  return tf.tensor2d(
    tokenizer.encodeBatch(templates.map((t) => fillTemplate(t, className))),
    [templates.length, tokenizer.contextLength],
    'int32',
  );
}

export function zeroShotClassifier(
  model: ClipModel,
  tokenizer: ClipTokenizer,
  classes: readonly string[],
  templates: readonly string[],
  options: ClassifierOptions = {},
): tf.Tensor2D {
  if (templates.length === 0) throw new Error('zero-shot classifier: no prompt templates');
  const batchSize = options.batchSize ?? 256;
  const columns: tf.Tensor1D[] = [];
  classes.forEach((className, c) => {
    columns.push(
      tf.tidy(() => {
        const ids = classPrompts(tokenizer, className, templates);
        const parts: tf.Tensor2D[] = [];
        for (let s = 0; s < templates.length; s += batchSize) {
          const chunk = ids.slice([s, 0], [Math.min(batchSize, templates.length - s), -1]);
          parts.push(l2Normalize(model.encodeText(chunk, { training: false }).embedding));
        }
        const mean = tf.mean(tf.concat(parts, 0), 0, true) as tf.Tensor2D;
        return l2Normalize(mean).reshape([-1]) as tf.Tensor1D;
      }),
    );
    options.onClass?.(c + 1, classes.length);
  });
  const weights = tf.tidy(() => tf.stack(columns, 1) as tf.Tensor2D);
  tf.dispose(columns);
  return weights;
}

/** Cosine scores [n, classes] of a batch of images (NHWC, normalised) against classifier weights [dim, classes]. */
export function zeroShotScores(model: ClipModel, images: tf.Tensor4D, classifier: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(l2Normalize(model.encodeImage(images, { training: false }).embedding), classifier));
}
