// Everything a run builds before the data flows, from its declaration: tokenizer, supervision, model (with the
// supervision's heads), trainer (AdamW, schedule, gradient cache, NaN guard). Exposed so custom pipelines, benches
// and tests can train the same parts without the runner.
import { loadTokenizer, type ClipTokenizer } from '../src/tokenizer/clip-tokenizer.ts';
import { createSupervision } from '../src/supervision/index.ts';
import type { Supervision } from '../src/supervision/types.ts';
import { createClip, type ClipModel } from '../src/models/clip.ts';
import { ParamStore } from '../src/nn/params.ts';
import { deriveRng } from '../src/rng.ts';
import { Trainer, type TrainerOptions } from '../src/train/trainer.ts';
import { declaredModelConfig, modelRecordOf } from './model-config.ts';
import type { ModelRecord } from '../src/weights/model-record.ts';
import type { PipelineDeclaration } from './declaration.ts';

export interface RunParts {
  tokenizer: ClipTokenizer;
  supervision: Supervision;
  model: ClipModel;
  /** What checkpoints record of the model (architecture, tokenizer, normalisation). */
  record: ModelRecord;
  trainer: Trainer<ClipModel>;
  dispose(): void;
}

export async function buildRunParts(
  d: PipelineDeclaration,
  computeGradients?: TrainerOptions['computeGradients'],
): Promise<RunParts> {
  const tokenizer = await loadTokenizer({
    variant: d.text.variant,
    vocabPath: d.text.vocabPath || undefined,
    contextLength: d.text.contextLength,
  });
  const supervision = createSupervision(d.supervision.name, d.supervision.options);
  const config = declaredModelConfig(d, tokenizer.vocabSize);
  const store = new ParamStore();
  const model = createClip(config, store, deriveRng(d.seed, 'model'));
  supervision.addHeads(model, deriveRng(d.seed, 'heads'));
  const o = d.optim;
  const trainer = new Trainer<ClipModel>(model, supervision, {
    schedule: {
      baseLr: o.baseLr,
      peakLr: o.peakLr,
      warmupSteps: o.warmupSteps,
      totalSteps: o.totalSteps,
      minLr: o.minLr,
    },
    adamw: { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
    microBatchSize: o.microBatchSize,
    nanPolicy: o.nanPolicy,
    computeGradients,
  });
  return {
    tokenizer,
    supervision,
    model,
    record: modelRecordOf(d, config, tokenizer),
    trainer,
    dispose: () => {
      trainer.dispose();
      supervision.dispose();
      model.dispose();
    },
  };
}
