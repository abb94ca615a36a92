// One training step, end to end on the chosen backend: forward + loss + gradients (gradient cache when
// micro-batching), the non-finite guard, logit-scale clamp (supervision.beforeStep), AdamW with the scheduled learning
// rate, and supervision.afterStep (clamp again, NN-queue enqueue). Every tensor created here is disposed before returning.
import { AdamW, type AdamWConfig } from './adamw.ts';
import { learningRate, type ScheduleConfig } from './schedule.ts';
import { computeGradients, gradientNorm } from './grad-cache.ts';
import { NanGuard, type GuardVerdict } from './nan-guard.ts';
import type { SupervisionLike, TrainBatch, TrainableModel } from './contracts.ts';
import { batchSize } from './contracts.ts';

export interface StepResult {
  step: number;
  samples: number;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  gradNorm: number;
  /** exp(theta) of every logit-scale parameter, by name (after the update and clamps). */
  logitScales: Record<string, number>;
  verdict: GuardVerdict;
  computeMs: number;
}

export interface TrainerOptions {
  schedule: ScheduleConfig;
  adamw: AdamWConfig;
  microBatchSize: number;
  nanPolicy: 'stop' | 'rollback';
  /** Replaces computeGradients (same contract), e.g. the data-parallel one of src/distributed/data-parallel.ts. */
  computeGradients?: typeof computeGradients;
}

export class Trainer<M extends TrainableModel> {
  readonly model: M;
  readonly supervision: SupervisionLike<M>;
  readonly optimizer: AdamW;
  readonly guard: NanGuard;
  readonly options: TrainerOptions;
  /** Multiplies the schedule (each rollback multiplies it by the rollback factor). */
  lrScale = 1;
  /** Last completed step (1-based steps; 0 = none). */
  step = 0;

  constructor(model: M, supervision: SupervisionLike<M>, options: TrainerOptions) {
    this.model = model;
    this.supervision = supervision;
    this.options = options;
    this.optimizer = new AdamW(
      model.store.trainableEntries().map((e) => ({ name: e.name, variable: e.variable, decay: e.meta.decay })),
      options.adamw,
    );
    this.guard = new NanGuard({ policy: options.nanPolicy });
  }

  learningRate(t: number): number {
    return learningRate(t, this.options.schedule) * this.lrScale;
  }

  logitScales(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.model.store.entries()) {
      if (e.meta.kind === 'logit_scale') out[e.name] = Math.exp(e.variable.dataSync()[0]);
    }
    return out;
  }

  /** Train on one batch as step `this.step + 1`. The batch tensors are NOT disposed here. */
  trainStep(batch: TrainBatch): StepResult {
    const t = this.step + 1;
    const started = performance.now();
    const lr = this.learningRate(t);
    const r = (this.options.computeGradients ?? computeGradients)(
      this.model,
      this.supervision,
      batch,
      this.options.microBatchSize,
    );
    let gradNorm = NaN;
    let verdict: GuardVerdict;
    try {
      gradNorm = gradientNorm(r.grads);
      verdict = this.guard.check(t, r.loss, gradNorm);
      if (verdict.action === 'ok') {
        // The seed clamps the logit-scale parameters after backward, before optimizer.step(), and again after it
        // (so the very first forward uses the initial 1/0.07).
        this.supervision.beforeStep(this.model);
        this.optimizer.apply(r.grads, lr);
        this.supervision.afterStep(this.model, r.features);
        this.step = t;
      }
    } finally {
      for (const g of Object.values(r.grads)) g.dispose();
      for (const f of Object.values(r.features)) f.dispose();
    }
    return {
      step: t,
      samples: batchSize(batch),
      loss: r.loss,
      parts: r.parts,
      lr,
      gradNorm,
      logitScales: this.logitScales(),
      verdict,
      computeMs: performance.now() - started,
    };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
