// Logit-scale control (docs/methods.md, "Logit scale"): the learnable temperature θ (init ln(1/0.07)) enters the logits
// as s = exp(θ), capped at 100 in the forward for CLIP/DeCLIP/FILIP's global term (not for SLIP nor FILIP's dense
// scale); the parameter itself is clamped into [3, 6] right before the optimiser step and again right after it (YFCC
// configs: grad_clip type logit_scale_param_value, value 3, max_value 6).
//
// The seed caps the value with `logit_scale.data = torch.clamp(logit_scale.data, max=100)` on the exp output. That
// replaces the value only: exp's backward keeps the unclamped result, so ds/dθ = exp(θ) even above the cap (checked on
// torch 1.13: θ = 4.8 gives s = 100 and ds/dθ = 121.5). We reproduce that: value min(exp θ, cap), derivative exp θ.
// (A true clamp would zero the gradient and freeze θ once it passes ln 100.)
import * as tf from '@tensorflow/tfjs';
import { stopGradient } from './losses.ts';

/** The forward cap of exp(θ) every method starts from (null in a method's defaults = no cap). */
export const MAX_LOGIT_SCALE = 100;
/** The interval θ is clamped into around each optimiser step (the seed's YFCC configs). */
export const LOGIT_SCALE_RANGE: readonly [number, number] = [3, 6];
/** A fresh copy of LOGIT_SCALE_RANGE for a method's option defaults. */
export const logitScaleRange = (): [number, number] => [LOGIT_SCALE_RANGE[0], LOGIT_SCALE_RANGE[1]];

/** s = min(exp θ, maxScale) in value with ds/dθ = exp θ (the seed's `.data` clamp); maxScale null = no cap. */
export function logitScaleValue(theta: tf.Tensor, maxScale: number | null): tf.Scalar {
  return tf.tidy(() => {
    const e = tf.exp(theta.reshape([]));
    if (maxScale === null) return e as tf.Scalar;
    const excess = stopGradient(tf.relu(tf.sub(e, maxScale)));
    return tf.sub(e, excess) as tf.Scalar;
  });
}

/** Clamp the parameter in place into [lo, hi]; null = leave it. */
export function clampLogitScaleParam(theta: tf.Variable, range: [number, number] | null): void {
  if (!range) return;
  const clamped = tf.tidy(() => tf.clipByValue(theta, range[0], range[1]));
  theta.assign(clamped);
  clamped.dispose();
}

/** Validate a [lo, hi] option (or null). */
export function parseScaleRange(value: unknown, name: string): [number, number] | null {
  if (value === null) return null;
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !value.every((v) => typeof v === 'number' && Number.isFinite(v)) ||
    value[0] > value[1]
  ) {
    throw new Error(`supervision option ${name} must be null or [lo, hi] with lo <= hi, got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1]];
}
