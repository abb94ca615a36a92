// Helpers shared by the supervision modules: option resolution with one-line errors, access to the declared views
// of a TrainBatch, the heads-per-store slot, and weighted sums of loss parts.
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../nn/params.ts';
import type { Supervision, TextView, TrainBatch } from './types.ts';
import { clampLogitScaleParam } from './logit-scale.ts';

export type OptionValue = number | string | boolean | null | [number, number];

/**
 * Merge `given` over `defaults`. Unknown keys and values of the wrong type are one-line errors naming the option.
 * Keys listed in `nullable` also accept null (no cap / no clamp); [lo, hi] defaults accept number pairs.
 */
export function resolveOptions<T extends Record<string, OptionValue>>(
  supervision: string,
  defaults: T,
  given: Record<string, unknown> = {},
  nullable: readonly string[] = [],
): T {
  const out: Record<string, OptionValue> = { ...defaults };
  for (const [k, v] of Object.entries(given)) {
    if (!(k in defaults)) {
      throw new Error(`supervision ${supervision}: unknown option "${k}" (known: ${Object.keys(defaults).join(', ')})`);
    }
    const d = defaults[k];
    const isPair = (x: unknown) =>
      Array.isArray(x) && x.length === 2 && x.every((e) => typeof e === 'number' && Number.isFinite(e));
    const ok =
      (v === null && nullable.includes(k)) ||
      (Array.isArray(d)
        ? isPair(v)
        : typeof d === 'number' || d === null
          ? typeof v === 'number' && Number.isFinite(v)
          : typeof v === typeof d);
    if (!ok)
      throw new Error(
        `supervision ${supervision}: option "${k}" has the wrong type (${JSON.stringify(v)}; default ` +
          `${JSON.stringify(d)})`,
      );
    out[k] = v as OptionValue;
  }
  return out as T;
}

export function positiveInt(supervision: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0)
    throw new Error(`supervision ${supervision}: option "${name}" must be a positive integer, got ${v}`);
  return v;
}

/** Optional ghost size: 0 means none (statistics over the whole batch). */
export function ghostSize(supervision: string, v: number): number | undefined {
  if (v === 0) return undefined;
  return positiveInt(supervision, 'headGhostSize', v);
}

/** The image view at `index` of the declared views; throws when the batch does not carry the declared views. */
export function imageView(
  sup: Pick<Supervision, 'name' | 'imageViews'>,
  batch: TrainBatch,
  index: number,
): tf.Tensor4D {
  if (batch.images.length !== sup.imageViews.length) {
    throw new Error(
      `supervision ${sup.name}: batch has ${batch.images.length} image view(s), expected ` +
        `${sup.imageViews.length} (${sup.imageViews.join(', ')})`,
    );
  }
  return batch.images[index];
}

export function textView(sup: Pick<Supervision, 'name'>, batch: TrainBatch, view: TextView | 'mlmLabels'): tf.Tensor2D {
  const t = batch.texts[view];
  if (!t) throw new Error(`supervision ${sup.name}: batch has no "${view}" text view`);
  return t;
}

/** A supervision instance is bound to one model by addHeads; features/loss fail clearly on another model. */
export class HeadsSlot<H> {
  private store: ParamStore | null = null;
  private heads: H | null = null;
  private readonly supervision: string;
  constructor(supervision: string) {
    this.supervision = supervision;
  }
  /** Creates the heads (once per supervision instance) and binds them to the model's store. */
  bind(store: ParamStore, make: () => H): H {
    if (this.store)
      throw new Error(
        `supervision ${this.supervision}: addHeads was already called (one supervision instance per model)`,
      );
    const heads = make();
    this.store = store;
    this.heads = heads;
    return heads;
  }
  get(store: ParamStore): H {
    if (!this.store || !this.heads)
      throw new Error(`supervision ${this.supervision}: call addHeads(model, rng) before features()/loss()`);
    if (store !== this.store)
      throw new Error(`supervision ${this.supervision}: model differs from the one passed to addHeads`);
    return this.heads;
  }
  get bound(): H | null {
    return this.heads;
  }
}

/** Σ weight_k · part_k over the weights given (parts without a weight are logged only). */
export function weightedTotal(parts: Record<string, tf.Scalar>, weights: Record<string, number>): tf.Scalar {
  return tf.tidy(() => {
    const terms = Object.entries(weights).map(([k, w]) => {
      const p = parts[k];
      if (!p) throw new Error(`weightedTotal: no loss part "${k}"`);
      return tf.mul(w, p);
    });
    return (terms.length === 1 ? terms[0] : tf.addN(terms)) as tf.Scalar;
  });
}

/** Feature lookup with a clear error (features come from another pass / a concatenation). */
export function feature<T extends tf.Tensor>(supervision: string, features: Record<string, tf.Tensor>, key: string): T {
  const t = features[key];
  if (!t)
    throw new Error(`supervision ${supervision}: feature "${key}" missing (have: ${Object.keys(features).join(', ')})`);
  return t as T;
}

/**
 * The step hooks and state of a method whose only state is its parameters (in the ParamStore) and whose logit scale
 * is clamped to `range` after backward and again after the update, as the seed does (CLIP, SigLIP).
 */
export function clampedScaleStatelessHooks(
  range: [number, number] | null,
): Pick<Supervision, 'beforeStep' | 'afterStep' | 'getState' | 'setState' | 'dispose'> {
  return {
    beforeStep: (model) => clampLogitScaleParam(model.logitScale, range),
    afterStep: (model) => clampLogitScaleParam(model.logitScale, range),
    getState: () => ({}),
    setState: () => {},
    dispose: () => {},
  };
}
