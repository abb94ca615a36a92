// One training step, end to end on the chosen backend: forward + loss + gradients (gradient cache when
// micro-batching), the non-finite guard, logit-scale clamp (supervision.beforeStep), AdamW with the scheduled learning
// rate, and supervision.afterStep (clamp again, NN-queue enqueue). Every tensor created here is disposed before returning.
//
// The step is asynchronous and never reads a tensor synchronously, on any backend. It records the whole update
// before anything comes back to the host: the guard's decision is computed on the device as a gate (finite loss and
// gradient norm, loss not above the guard's threshold), AdamW applies its update only where the gate is open, and
// then ONE read brings back the loss, its parts, the gradient norm, the gate and the logit scales together. That read
// is the step's one event-loop turn (Dawn, the WebGPU binding, frees native objects only when the loop turns). The
// host guard then judges the same numbers (it always agrees with the gate, see NanGuard.threshold); when the step is
// rejected, the logit-scale clamps are undone and the step's other effects (NN queue) are dropped (step-effects.ts),
// so parameters, moments and queue are exactly as before the step.
import * as tf from '@tensorflow/tfjs';
import { AdamW, type AdamWConfig } from './adamw.ts';
import { learningRate, type ScheduleConfig } from './schedule.ts';
import { computeGradients, gradientNorm } from './grad-cache.ts';
import { NanGuard, type GuardVerdict } from './nan-guard.ts';
import type { SupervisionLike, TrainBatch, TrainableModel } from './contracts.ts';
type ParamStoreLike = TrainableModel['store'];
import { batchSize, batchTensors } from './contracts.ts';
import { prefetchHostValues } from '../host-values.ts';
import { settleStepEffects, withinStep } from './step-effects.ts';
import { deviceErrorScope } from '../webgpu/error-scope.ts';

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

  /** exp(theta) of every logit-scale parameter, by name (one read). */
  async logitScales(): Promise<Record<string, number>> {
    const entries = this.model.store.entries().filter((e) => e.meta.kind === 'logit_scale');
    if (entries.length === 0) return {};
    const packed = tf.tidy(() => tf.concat(entries.map((e) => tf.exp(tf.reshape(e.variable, [-1])))));
    const values = await packed.data();
    packed.dispose();
    return Object.fromEntries(entries.map((e, i) => [e.name, values[i]!]));
  }

  /**
   * Train on one batch as step `this.step + 1`. The batch tensors are NOT disposed here. `whileReading` is called once
   * the whole step is recorded, while its one read is pending (the device computing): the caller prepares the next
   * batch then. No gradient computation or tensor scope is open at that point.
   */
  async trainStep(batch: TrainBatch, whileReading?: () => void): Promise<StepResult> {
    const t = this.step + 1;
    const started = performance.now();
    const lr = this.learningRate(t);
    const errors = deviceErrorScope();
    const scales = this.model.store.entries().filter((e) => e.meta.kind === 'logit_scale');
    // the clamps in beforeStep/afterStep replace these variables; a rejected step puts the old values back
    const scalesBefore = scales.map((e) => tf.clone(e.variable));
    let packed: tf.Tensor;
    let partNames: string[];
    try {
      ({ packed, partNames } = await this.record(batch, lr, scales));
    } catch (err) {
      await settleStepEffects(false);
      this.optimizer.settle(false);
      tf.dispose(scalesBefore);
      // a device error (an invalid kernel, out of memory) explains a failure better than what JS saw of it
      await errors.close(`training step ${t}`);
      throw err;
    }
    let values: Float32Array;
    try {
      // the step's one read (and its one event-loop turn); device errors raised by the step surface here
      const reading = Promise.all([packed.data(), errors.close(`training step ${t}`)]);
      try {
        whileReading?.();
      } catch (err) {
        await reading.catch(() => undefined);
        throw err;
      }
      [values] = (await reading) as [Float32Array, void];
    } catch (err) {
      await settleStepEffects(false);
      this.optimizer.settle(false);
      tf.dispose(scalesBefore);
      throw err;
    } finally {
      packed.dispose();
    }
    const loss = values[0]!;
    const parts = Object.fromEntries(partNames.map((k, i) => [k, values[1 + i]!]));
    const gradNorm = values[1 + partNames.length]!;
    const applied = values[2 + partNames.length] === 1;
    const logitScales = Object.fromEntries(scales.map((e, i) => [e.name, values[3 + partNames.length + i]!]));
    const verdict = this.guard.check(t, loss, gradNorm);
    if ((verdict.action === 'ok') !== applied)
      throw new Error(
        `trainer: at step ${t} the device gate (${applied ? 'open' : 'closed'}) disagrees with the guard (${verdict.action}); loss ${loss}, gradient norm ${gradNorm}`,
      );
    await settleStepEffects(applied);
    this.optimizer.settle(applied);
    if (!applied) scales.forEach((e, i) => e.variable.assign(scalesBefore[i]!));
    tf.dispose(scalesBefore);
    if (applied) this.step = t;
    return {
      step: t,
      samples: batchSize(batch),
      loss,
      parts,
      lr,
      gradNorm,
      logitScales,
      verdict,
      computeMs: performance.now() - started,
    };
  }

  /**
   * Everything the step does on the backend, recorded without reading anything back: gradients, the gate, the gated
   * update, and the packed tensor [loss, parts…, gradient norm, gate, logit scales…] that the step then reads.
   */
  private async record(
    batch: TrainBatch,
    lr: number,
    scales: ReturnType<ParamStoreLike['entries']>,
  ): Promise<{ packed: tf.Tensor; partNames: string[] }> {
    // token ids and MLM labels are host data the supervision needs on the host (MLM positions): keep a host copy
    await prefetchHostValues(batchTensors(batch).filter((x) => x.dtype === 'int32'));
    const r = await (this.options.computeGradients ?? computeGradients)(
      this.model,
      this.supervision,
      batch,
      this.options.microBatchSize,
    );
    const partNames = Object.keys(r.parts);
    try {
      const threshold = this.guard.threshold();
      const [gate, gradNorm] = tf.tidy(() => {
        const norm = gradientNorm(r.grads);
        const finite = tf.logicalAnd(tf.isFinite(r.loss), tf.isFinite(norm));
        const ok = Number.isFinite(threshold) ? tf.logicalAnd(finite, tf.lessEqual(r.loss, threshold)) : finite;
        return [tf.where(ok, tf.scalar(1), tf.scalar(0)), norm];
      });
      try {
        withinStep(() => {
          // The seed clamps the logit-scale parameters after backward, before optimizer.step(), and again after it
          // (so the very first forward uses the initial 1/0.07).
          this.supervision.beforeStep(this.model);
          this.optimizer.apply(r.grads, lr, gate);
          this.supervision.afterStep(this.model, r.features);
        });
        const packed = tf.tidy(() =>
          tf.concat([
            tf.stack([r.loss, ...partNames.map((k) => r.parts[k]!), gradNorm, gate]),
            ...scales.map((e) => tf.exp(tf.reshape(e.variable, [-1]))),
          ]),
        );
        return { packed, partNames };
      } finally {
        gate.dispose();
        gradNorm.dispose();
      }
    } finally {
      for (const g of Object.values(r.grads)) g.dispose();
      for (const f of Object.values(r.features)) f.dispose();
      r.loss.dispose();
      for (const p of Object.values(r.parts)) p.dispose();
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
