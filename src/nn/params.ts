// ParamStore: the ordered set of a model's parameters and buffers, keyed by OpenAI/open_clip state-dict names
// (e.g. "visual.transformer.resblocks.0.attn.in_proj_weight"). Values are tf.Variables in TensorFlow layout
// (conv HWIO, linear [in, out]); `torchLayout` records how to convert to/from PyTorch layout on import/export.
//
// Metadata per entry:
//   trainable  - receives gradients (false for buffers and frozen weights such as ViT conv1)
//   decay      - weight decay applies (seed rule: not for norms, biases, logit scales, buffers)
//   kind       - weight | bias | norm | embedding | logit_scale | buffer
import * as tf from '@tensorflow/tfjs';

export type ParamKind = 'weight' | 'bias' | 'norm' | 'embedding' | 'logit_scale' | 'buffer';
/** How the PyTorch tensor relates to ours: 'linear' = transposed 2-D, 'conv' = OIHW vs HWIO, 'none' = same. */
export type TorchLayout = 'none' | 'linear' | 'conv';

export interface ParamMeta {
  trainable: boolean;
  decay: boolean;
  kind: ParamKind;
  torchLayout: TorchLayout;
}

export interface ParamEntry {
  name: string;
  variable: tf.Variable;
  meta: ParamMeta;
}

/** Plain, serialisable snapshot of one tensor (used by checkpoints and toRecord/load). */
export interface TensorRecord {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

const defaultDecay: Record<ParamKind, boolean> = {
  weight: true,
  embedding: true,
  bias: false,
  norm: false,
  logit_scale: false,
  buffer: false,
};

let storeCounter = 0;

export class ParamStore {
  private readonly map = new Map<string, ParamEntry>();
  /** Prefix that keeps tf's global variable registry free of clashes between stores. */
  private readonly id = `store${storeCounter++}`;

  /**
   * Register a parameter. `value` is the initial tensor (ownership passes to the store: it is disposed after copying).
   * Defaults: trainable unless kind is 'buffer'; decay from the kind; torchLayout 'none'.
   */
  add(
    name: string,
    value: tf.Tensor,
    meta: { kind: ParamKind; trainable?: boolean; decay?: boolean; torchLayout?: TorchLayout },
  ): tf.Variable {
    if (this.map.has(name)) throw new Error(`ParamStore: parameter "${name}" already exists`);
    const trainable = meta.trainable ?? meta.kind !== 'buffer';
    const full: ParamMeta = {
      kind: meta.kind,
      trainable,
      decay: meta.decay ?? (defaultDecay[meta.kind] && trainable),
      torchLayout: meta.torchLayout ?? 'none',
    };
    const variable = tf.variable(value, trainable, `${this.id}/${name}`);
    value.dispose();
    this.map.set(name, { name, variable, meta: full });
    return variable;
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  get(name: string): tf.Variable {
    const e = this.map.get(name);
    if (!e) throw new Error(`ParamStore: no parameter named "${name}"`);
    return e.variable;
  }

  meta(name: string): ParamMeta {
    const e = this.map.get(name);
    if (!e) throw new Error(`ParamStore: no parameter named "${name}"`);
    return e.meta;
  }

  /** Entries in registration order. */
  entries(): ParamEntry[] {
    return [...this.map.values()];
  }
  names(): string[] {
    return [...this.map.keys()];
  }
  get size(): number {
    return this.map.size;
  }

  /** Change whether a parameter receives gradients (e.g. to unfreeze ViT conv1). */
  setTrainable(name: string, trainable: boolean): void {
    const e = this.map.get(name);
    if (!e) throw new Error(`ParamStore: no parameter named "${name}"`);
    e.meta.trainable = trainable;
    e.variable.trainable = trainable;
  }

  trainableEntries(): ParamEntry[] {
    return this.entries().filter((e) => e.meta.trainable);
  }
  trainableVariables(): tf.Variable[] {
    return this.trainableEntries().map((e) => e.variable);
  }
  /** Non-trainable state updated by the forward pass (BN running statistics). */
  buffers(): ParamEntry[] {
    return this.entries().filter((e) => e.meta.kind === 'buffer');
  }

  /** Number of scalar values over all entries (or only trainable ones). */
  countValues(onlyTrainable = false): number {
    let n = 0;
    for (const e of this.map.values()) if (!onlyTrainable || e.meta.trainable) n += e.variable.size;
    return n;
  }

  /** Synchronous snapshot of every entry (TensorFlow layout). */
  toRecord(): Record<string, TensorRecord> {
    const out: Record<string, TensorRecord> = {};
    for (const e of this.map.values()) {
      const dtype = e.variable.dtype === 'int32' ? 'int32' : 'float32';
      const data = e.variable.dataSync();
      out[e.name] = {
        shape: e.variable.shape.slice(),
        dtype,
        data: dtype === 'int32' ? Int32Array.from(data as Int32Array) : Float32Array.from(data as Float32Array),
      };
    }
    return out;
  }

  /** Assign values from a record (TensorFlow layout). Every entry of the store must be present, with the same shape. */
  load(record: Record<string, TensorRecord>, opts: { allowMissing?: boolean; allowExtra?: boolean } = {}): void {
    for (const e of this.map.values()) {
      const r = record[e.name];
      if (!r) {
        if (opts.allowMissing) continue;
        throw new Error(`ParamStore.load: missing "${e.name}"`);
      }
      this.assign(e.name, r.data, r.shape);
    }
    if (!opts.allowExtra) {
      for (const k of Object.keys(record))
        if (!this.map.has(k)) throw new Error(`ParamStore.load: unknown parameter "${k}"`);
    }
  }

  /** Assign one entry from raw data (TensorFlow layout); shape must match exactly. */
  assign(name: string, data: ArrayLike<number>, shape: readonly number[]): void {
    const v = this.get(name);
    if (shape.length !== v.shape.length || shape.some((d, i) => d !== v.shape[i])) {
      throw new Error(`ParamStore: shape mismatch for "${name}": store [${v.shape}] vs given [${shape}]`);
    }
    const t =
      v.dtype === 'int32'
        ? tf.tensor(Int32Array.from(data), v.shape, 'int32')
        : tf.tensor(data instanceof Float32Array ? data : Float32Array.from(data), v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }

  dispose(): void {
    for (const e of this.map.values()) e.variable.dispose();
    this.map.clear();
  }
}
