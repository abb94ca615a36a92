// AdamW with decoupled weight decay, numerically the same sequence of operations as PyTorch 1.13's
// torch.optim.AdamW (single-tensor path, amsgrad off), which the seed uses (docs/methods.md, "Training recipe"):
//   p     <- p * (1 - lr * wd)                    (decoupled decay; wd = 0 for excluded params)
//   m     <- b1 * m + (1 - b1) * g
//   v     <- b2 * v + (1 - b2) * g^2
//   denom <- sqrt(v) / sqrt(1 - b2^t) + eps
//   p     <- p - (lr / (1 - b1^t)) * m / denom
// Two placements of the moments, chosen by the backend:
//   host   (wasm, cpu) the moments live in JS typed arrays and the update is a float32-exact loop over the
//          gradient's own storage (hostView: the wasm heap or the cpu backend's array, no copy, no device read): in
//          the native BLAS addon when it is on (src/kernels/native-blas.ts; threaded, ~10x the JavaScript loop and
//          bit-identical to it), else in JavaScript. On
//          wasm every tensor shares one 4 GB heap, and two more copies of ViT-B/32's 150M parameters (1.2 GB) there
//          leave no room for a training step's activations and gradients.
//   device (webgpu, tensorflow) the moments are tensors on the device and the update never leaves it: one fused
//          WGSL dispatch per parameter on webgpu (src/webgpu/adamw-kernel.ts), tf ops elsewhere.
// An optional gate (a float32 scalar on the backend, 1 = apply) lets the trainer record the update before the step's
// verdict is known on the host: with gate 0 parameters and moments stay as they were. settle() then tells the
// optimiser whether the step counted. state() / loadState() copy the moments for checkpoints.
import * as tf from '@tensorflow/tfjs';
import { hostView, isHostMemoryBackend } from '../host-values.ts';
import { adamwUpdate } from '../webgpu/adamw-kernel.ts';
import { activeBlas } from '../kernels/native-blas.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const seedAdamW = (weightDecay: number): AdamWConfig => ({ beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay });

export interface AdamWParam {
  name: string;
  variable: tf.Variable;
  /** False for norms, biases, logit scales (the seed's param_group_all exclusions). */
  decay: boolean;
}

export interface AdamWState {
  step: number;
  /** First and second moments by parameter name (Float32Array, the parameter's size). */
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export type MomentPlacement = 'host' | 'device';

/** Where the moments live on the active backend (see the header). */
export function defaultPlacement(): MomentPlacement {
  return isHostMemoryBackend() ? 'host' : 'device';
}

export class AdamW {
  readonly config: AdamWConfig;
  readonly params: AdamWParam[];
  readonly placement: MomentPlacement;
  /** Number of updates applied so far (PyTorch's state['step']). */
  step = 0;
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();
  private mt = new Map<string, tf.Tensor>();
  private vt = new Map<string, tf.Tensor>();
  /** apply() with a gate ran and settle() has not been called yet. */
  private pending = false;

  constructor(params: AdamWParam[], config: AdamWConfig, placement: MomentPlacement = defaultPlacement()) {
    this.config = config;
    this.params = params;
    this.placement = placement;
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new Error(`AdamW: parameter ${p.name} listed twice`);
      seen.add(p.name);
      if (placement === 'host') {
        this.m.set(p.name, new Float32Array(p.variable.size));
        this.v.set(p.name, new Float32Array(p.variable.size));
      } else {
        this.mt.set(p.name, tf.keep(tf.zeros(p.variable.shape, 'float32')));
        this.vt.set(p.name, tf.keep(tf.zeros(p.variable.shape, 'float32')));
      }
    }
  }

  /**
   * Apply one update with learning rate `lr`. `grads` maps parameter names to gradients; a parameter
   * without a gradient is left untouched (its moments too), as PyTorch skips p.grad is None.
   * Host placement: every operation is rounded to float32 (Math.fround) in the order above, so the result is
   * bit-identical to the same sequence of float32 tensor ops.
   * With a `gate`, the update happens only where gate is 1, and the step counter waits for settle(applied).
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, gate?: tf.Tensor): void {
    if (this.pending) throw new Error('AdamW.apply: the previous gated update was not settled');
    const t = this.step + 1;
    const f = Math.fround;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = 1 - Math.pow(beta2, t);
    const stepSize = f(lr / bc1);
    const sqrtBc2 = f(Math.sqrt(bc2));
    const b1 = f(beta1),
      c1 = f(1 - beta1),
      b2 = f(beta2),
      c2 = f(1 - beta2),
      e = f(eps);
    for (const p of this.params) {
      const gt = grads[p.name];
      if (gt && gt.size !== p.variable.size)
        throw new Error(`AdamW: gradient of ${p.name} has ${gt.size} elements, the parameter ${p.variable.size}`);
    }
    if (gate) this.pending = true;
    else this.step = t;
    if (this.placement === 'host') {
      if (gate && hostView(gate)[0] !== 1) return;
      const blas = activeBlas();
      // an addon built before it had adamw (a checkout updated without reinstalling) leaves the JavaScript loop
      const native = typeof blas?.adamw === 'function' ? blas : null;
      for (const p of this.params) {
        const gt = grads[p.name];
        if (!gt) continue;
        const decay = p.decay && weightDecay !== 0 ? f(1 - lr * weightDecay) : 1;
        const g = hostView(gt) as Float32Array;
        const w = new Float32Array(hostView(p.variable) as Float32Array);
        const m = this.m.get(p.name)!,
          v = this.v.get(p.name)!;
        if (native) native.adamw(w, g, m, v, decay, b1, c1, b2, c2, sqrtBc2, e, stepSize);
        else
          for (let i = 0; i < w.length; i++) {
            const gi = g[i]!;
            const value = decay === 1 ? w[i]! : f(w[i]! * decay);
            const mi = f(f(m[i]! * b1) + f(gi * c1));
            const vi = f(f(v[i]! * b2) + f(f(gi * gi) * c2));
            m[i] = mi;
            v[i] = vi;
            const denom = f(f(f(Math.sqrt(vi)) / sqrtBc2) + e);
            w[i] = f(value - f(f(mi / denom) * stepSize));
          }
        tf.tidy(() => p.variable.assign(tf.tensor(w, p.variable.shape, 'float32')));
      }
      return;
    }
    const onWebgpu = tf.getBackend() === 'webgpu';
    const open = gate ?? tf.scalar(1);
    try {
      for (const p of this.params) {
        const gt = grads[p.name];
        if (!gt) continue;
        const decay = p.decay && weightDecay !== 0 ? f(1 - lr * weightDecay) : 1;
        const m = this.mt.get(p.name)!,
          v = this.vt.get(p.name)!;
        if (onWebgpu) {
          const next = adamwUpdate(p.variable, gt, m, v, open, {
            decay,
            beta1: b1,
            oneMinusBeta1: c1,
            beta2: b2,
            oneMinusBeta2: c2,
            eps: e,
            stepSize,
            sqrtBiasCorrection2: sqrtBc2,
          });
          p.variable.assign(next);
          next.dispose();
          continue;
        }
        const [w, mi, vi] = tf.tidy(() => {
          const on = tf.equal(open, 1);
          const value = decay === 1 ? p.variable : tf.mul(p.variable, decay);
          const mNew = tf.add(tf.mul(m, b1), tf.mul(gt, c1));
          const vNew = tf.add(tf.mul(v, b2), tf.mul(tf.square(gt), c2));
          const denom = tf.add(tf.div(tf.sqrt(vNew), sqrtBc2), e);
          const wNew = tf.sub(value, tf.mul(tf.div(mNew, denom), stepSize));
          return [tf.where(on, wNew, p.variable), tf.where(on, mNew, m), tf.where(on, vNew, v)];
        });
        p.variable.assign(w);
        w.dispose();
        m.dispose();
        v.dispose();
        this.mt.set(p.name, mi);
        this.vt.set(p.name, vi);
      }
    } finally {
      if (!gate) open.dispose();
    }
  }

  /** After a gated apply(): count the step when it was applied (the gate was 1). */
  settle(applied: boolean): void {
    if (!this.pending) return;
    this.pending = false;
    if (applied) this.step += 1;
  }

  /** A copy of the moments (read from the device for the device placement). */
  async state(): Promise<AdamWState> {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const p of this.params) {
      if (this.placement === 'host') {
        m[p.name] = new Float32Array(this.m.get(p.name)!);
        v[p.name] = new Float32Array(this.v.get(p.name)!);
      } else {
        m[p.name] = new Float32Array((await this.mt.get(p.name)!.data()) as Float32Array);
        v[p.name] = new Float32Array((await this.vt.get(p.name)!.data()) as Float32Array);
      }
    }
    return { step: this.step, m, v };
  }

  loadState(state: AdamWState): void {
    for (const p of this.params) {
      const m = state.m[p.name];
      const v = state.v[p.name];
      if (!m || !v) throw new Error(`AdamW.loadState: no moments for parameter ${p.name} in the checkpoint`);
      const size = p.variable.size;
      if (m.length !== size || v.length !== size)
        throw new Error(`AdamW.loadState: ${p.name} has ${size} elements, checkpoint moments have ${m.length}`);
    }
    for (const p of this.params) {
      const m = state.m[p.name]!,
        v = state.v[p.name]!;
      if (this.placement === 'host') {
        this.m.get(p.name)!.set(m);
        this.v.get(p.name)!.set(v);
      } else {
        this.mt.get(p.name)!.dispose();
        this.vt.get(p.name)!.dispose();
        this.mt.set(p.name, tf.keep(tf.tensor(m, p.variable.shape, 'float32')));
        this.vt.set(p.name, tf.keep(tf.tensor(v, p.variable.shape, 'float32')));
      }
    }
    this.step = state.step;
    this.pending = false;
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
    for (const t of [...this.mt.values(), ...this.vt.values()]) t.dispose();
    this.mt.clear();
    this.vt.clear();
  }
}
