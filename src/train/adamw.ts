// AdamW with decoupled weight decay, numerically the same sequence of operations as PyTorch 1.13's
// torch.optim.AdamW (single-tensor path, amsgrad off), which the seed uses (declip-reference.md §5):
//   p     <- p * (1 - lr * wd)                    (decoupled decay; wd = 0 for excluded params)
//   m     <- b1 * m + (1 - b1) * g
//   v     <- b2 * v + (1 - b2) * g^2
//   denom <- sqrt(v) / sqrt(1 - b2^t) + eps
//   p     <- p - (lr / (1 - b1^t)) * m / denom
// The moments live on the backend as tf.Variables; state() / loadState() move them to and from
// typed arrays for checkpoints.
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
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();

  constructor(params: AdamWParam[], config: AdamWConfig) {
    this.config = config;
    this.params = params;
    const seen = new Set<string>();
    for (const p of params) {
      if (seen.has(p.name)) throw new Error(`AdamW: parameter ${p.name} listed twice`);
      seen.add(p.name);
      this.m.set(p.name, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
      this.v.set(p.name, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
    }
  }

  /**
   * Apply one update with learning rate `lr`. `grads` maps parameter names to gradients; a parameter
   * without a gradient is left untouched (its moments too), as PyTorch skips p.grad is None.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - Math.pow(beta1, this.step);
    const bc2 = 1 - Math.pow(beta2, this.step);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    // one tidy per parameter: the temporaries of all 150M parameters of ViT-B/32 at once do not fit a wasm32 heap
    for (const p of this.params) {
      const g = grads[p.name];
      if (!g) continue;
      tf.tidy(() => {
        const m = this.m.get(p.name)!;
        const v = this.v.get(p.name)!;
        let value: tf.Tensor = p.variable;
        if (p.decay && weightDecay !== 0) value = tf.mul(value, 1 - lr * weightDecay);
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(vNew), sqrtBc2), eps);
        m.assign(mNew);
        v.assign(vNew);
        p.variable.assign(tf.sub(value, tf.mul(tf.div(mNew, denom), stepSize)));
      });
    }
  }

  state(): AdamWState {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const p of this.params) {
      m[p.name] = new Float32Array(this.m.get(p.name)!.dataSync() as Float32Array);
      v[p.name] = new Float32Array(this.v.get(p.name)!.dataSync() as Float32Array);
    }
    return { step: this.step, m, v };
  }

  loadState(state: AdamWState): void {
    for (const p of this.params) {
      const m = state.m[p.name];
      const v = state.v[p.name];
      if (!m || !v) throw new Error(`AdamW.loadState: no moments for parameter ${p.name} in the checkpoint`);
      const size = p.variable.size;
      if (m.length !== size || v.length !== size) throw new Error(`AdamW.loadState: ${p.name} has ${size} elements, checkpoint moments have ${m.length}`);
      tf.tidy(() => {
        this.m.get(p.name)!.assign(tf.tensor(m, p.variable.shape, 'float32'));
        this.v.get(p.name)!.assign(tf.tensor(v, p.variable.shape, 'float32'));
      });
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
