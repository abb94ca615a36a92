// Test helper: a tiny CLIP (tiny-vit + tiny-text) with any of the five supervisions (small heads), a Trainer on it,
// and synthetic batches shaped like the runner's (every declared image view, text views, MLM labels with -100).
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../src/rng.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip, type ClipModel } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import type { Supervision } from '../../src/supervision/types.ts';
import { Trainer } from '../../src/train/trainer.ts';
import type { TrainBatch } from '../../src/train/contracts.ts';

export const smallHeads: Record<string, Record<string, unknown>> = {
  clip: {},
  declip: { projectorHidden: 32, projectorOut: 32, predictorHidden: 16, queueSize: 64, headGhostSize: 4 },
  slip: { mlpHidden: 32, mlpOut: 16 },
  filip: { denseDim: 16, topK: 4, textPadding: 'exclude' },
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

export interface TinyTraining {
  model: ClipModel;
  supervision: Supervision;
  trainer: Trainer<ClipModel>;
  dispose(): void;
}

export function tinyTraining(name: string, seed: number, microBatchSize = 0, contextLength = 16): TinyTraining {
  const config = buildClipConfig('tiny', { text: { contextLength, vocabSize: 512 } });
  const rng = new Rng(seed);
  const model = createClip(config, new ParamStore(), rng.fork());
  const supervision = createSupervision(name, smallHeads[name]);
  supervision.addHeads(model, rng.fork());
  const trainer = new Trainer<ClipModel>(model, supervision, {
    schedule: { baseLr: 1e-4, peakLr: 1e-3, warmupSteps: 2, totalSteps: 100, minLr: 0 },
    adamw: { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.1 },
    microBatchSize,
    nanPolicy: 'stop',
  });
  return {
    model,
    supervision,
    trainer,
    dispose() {
      trainer.dispose();
      supervision.dispose();
      model.store.dispose();
    },
  };
}

/** n samples for `sup` on `model`: seeded normal images, token rows (SOT … EOT, zero padding), MLM labels. */
export function syntheticTrainBatch(t: TinyTraining, n: number, seed: number): TrainBatch {
  const r = new Rng(seed);
  const { imageSize } = t.model.config.vision;
  const ctx = t.model.config.text.contextLength;
  const vocab = t.model.config.text.vocabSize;
  const images = t.supervision.imageViews.map(() => {
    const d = new Float32Array(n * imageSize * imageSize * 3);
    for (let i = 0; i < d.length; i++) d[i] = r.normal();
    return tf.tensor4d(d, [n, imageSize, imageSize, 3]);
  });
  const rows = (labels: boolean) => {
    const d = new Int32Array(n * ctx).fill(labels ? -100 : 0);
    for (let b = 0; b < n; b++) {
      const len = 3 + r.int(ctx - 4);
      if (!labels) d[b * ctx] = vocab - 2;
      for (let i = 1; i < len; i++) {
        if (labels) d[b * ctx + i] = r.int(5) === 0 ? 1 + r.int(vocab - 3) : -100;
        else d[b * ctx + i] = 1 + r.int(vocab - 3);
      }
      if (!labels) d[b * ctx + len] = vocab - 1;
    }
    return tf.tensor2d(d, [n, ctx], 'int32');
  };
  const texts: TrainBatch['texts'] = {};
  for (const v of t.supervision.textViews) texts[v] = rows(false);
  if (t.supervision.textViews.includes('mlm')) texts.mlmLabels = rows(true);
  return { images, texts };
}
