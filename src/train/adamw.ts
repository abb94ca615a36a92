// AdamW with decoupled weight decay, numerically the same sequence of operations as PyTorch 1.13's
// torch.optim.AdamW (single-tensor path, amsgrad off), which the seed uses (docs/methods.md, "Training recipe"):
//   p     <- p * (1 - lr * wd)                    (decoupled decay; wd = 0 for excluded params)
//   m     <- b1 * m + (1 - b1) * g
//   v     <- b2 * v + (1 - b2) * g^2
//   denom <- sqrt(v) / sqrt(1 - b2^t) + eps
//   p     <- p - (lr / (1 - b1^t)) * m / denom
// The moments live in JS typed arrays (see the class); state() / loadState() copy them for checkpoints.
import * as tf from '@tensorflow/tfjs';

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

export class AdamW {
  readonly config: AdamWConfig;
  readonly params: AdamWParam[];
  /** Number of updates applied so far (PyTorch's state['step']). */
  step = 0;
  // The moments live in JS memory, not on the backend: on wasm every tensor shares one 4 GB heap, and two more copies
  // of ViT-B/32's 150M parameters (1.2 GB) there leave no room for a training step's activations and gradients.
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();

  constructor(params: AdamWParam[], config: AdamWConfig) {
    this.config = config;
    this.params = params;
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new Error(`AdamW: parameter ${p.name} listed twice`);
      seen.add(p.name);
      this.m.set(p.name, new Float32Array(p.variable.size));
      this.v.set(p.name, new Float32Array(p.variable.size));
    }
  }

  /**
   * Apply one update with learning rate `lr`. `grads` maps parameter names to gradients; a parameter
   * without a gradient is left untouched (its moments too), as PyTorch skips p.grad is None.
   * Every operation is rounded to float32 (Math.fround) in the order above, so the result is bit-identical to the
   * same sequence of float32 tensor ops.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const f = Math.fround;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - Math.pow(beta1, this.step);
    const bc2 = 1 - Math.pow(beta2, this.step);
    const stepSize = f(lr / bc1);
    const sqrtBc2 = f(Math.sqrt(bc2));
    const b1 = f(beta1),
      c1 = f(1 - beta1),
      b2 = f(beta2),
      c2 = f(1 - beta2),
      e = f(eps);
    for (const p of this.params) {
      const gt = grads[p.name];
      if (!gt) continue;
      if (gt.size !== p.variable.size)
        throw new Error(`AdamW: gradient of ${p.name} has ${gt.size} elements, the parameter ${p.variable.size}`);
      const decay = p.decay && weightDecay !== 0 ? f(1 - lr * weightDecay) : 1;
      const g = gt.dataSync() as Float32Array;
      const w = new Float32Array(p.variable.dataSync() as Float32Array);
      const m = this.m.get(p.name)!,
        v = this.v.get(p.name)!;
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
  }

  state(): AdamWState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const p of this.params) {
      m[p.name] = new Float32Array(this.m.get(p.name)!);
      v[p.name] = new Float32Array(this.v.get(p.name)!);
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
      this.m.get(p.name)!.set(m);
      this.v.get(p.name)!.set(v);
    }
    this.step = state.step;
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
  }
}
