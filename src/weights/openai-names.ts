// Import/export between a ParamStore and OpenAI/open_clip state dicts (safetensors tensors).
//
// Our store already uses OpenAI names; what differs is the layout: PyTorch linear weights are [out, in] (ours [in,
// out]), conv weights OIHW (ours HWIO). Each store entry's `torchLayout` says which conversion applies. Parameters that
// are plain matrices in PyTorch (visual.proj, text_projection, embeddings) keep their layout.
//
// Checkpoint name variants accepted on import (canonicalName):
//   - OpenAI / open_clip: as is. OpenAI's JIT-derived state dicts also hold `input_resolution`, `context_length`,
//     `vocab_size` scalars, which are ignored.
//   - DDP checkpoints (DeCLIP, many training repos): a leading `module.` is stripped.
//   - DeCLIP: the text tower lives under `encode_text.` (`module.encode_text.token_embedding.weight`, ...), so that
//     prefix is stripped; `text_projection` is an nn.Linear (`text_projection.weight` [embed, width] +
//     `text_projection.bias`) - imported as a Linear (the config then has projectionBias: true); `logit_scale` has
//     shape [1] instead of []. DeCLIP's method heads (`projector.*`, `predictor.*`, `text_label_predictor.*`, FILIP
//     `image_mapping`/`text_mapping`, `logit_scale_dense`) keep their names and load into the store if the supervision
//     added heads with those names; otherwise they are reported as unused.
import type { ParamStore } from '../nn/params.ts';
import type { SafeTensor, TensorToWrite } from './safetensors.ts';
import { toFloat32, toInt32 } from './safetensors.ts';

const IGNORED_KEYS = new Set(['input_resolution', 'context_length', 'vocab_size']);

/** State-dict names of the methods' heads (DeCLIP, SLIP, FILIP, SigLIP's bias): expected beside a CLIP's tensors, not part of it. */
export const METHOD_HEAD_PREFIXES = [
  'projector.',
  'predictor.',
  'predictor_sim.',
  'text_label_predictor.',
  'image_mapping.',
  'text_mapping.',
  'logit_scale_dense',
  'logit_bias',
] as const;

export const isMethodHead = (name: string): boolean => METHOD_HEAD_PREFIXES.some((p) => name.startsWith(p));

/** Up to `max` quoted names, then how many more. */
export function listNames(names: string[], max = 8): string {
  const shown = names.slice(0, max).map((n) => `"${n}"`);
  return names.length > max ? `${shown.join(', ')} and ${names.length - max} more` : shown.join(', ');
}

/** Map a checkpoint key to clip-bench's (OpenAI) name, or undefined for keys that are not tensors of the model. */
export function canonicalName(key: string): string | undefined {
  let k = key.startsWith('module.') ? key.slice('module.'.length) : key;
  if (k.startsWith('encode_text.')) k = k.slice('encode_text.'.length);
  if (IGNORED_KEYS.has(k)) return undefined;
  return k;
}

/** Rename checkpoint keys to canonical names; a clash (two keys mapping to one name) is an error. */
export function canonicalise<T>(tensors: Map<string, T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [key, t] of tensors) {
    const name = canonicalName(key);
    if (name === undefined) continue;
    if (out.has(name)) throw new Error(`checkpoint has two tensors for "${name}" (e.g. "${key}")`);
    out.set(name, t);
  }
  return out;
}

/** PyTorch [out, in] -> ours [in, out] (and back: the same operation with swapped dims). */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** OIHW [o, i, h, w] -> HWIO [h, w, i, o]. */
export function oihwToHwio(data: Float32Array, [o, i, h, w]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          out[((y * w + x) * i + b) * o + a] = data[((a * i + b) * h + y) * w + x];
        }
  return out;
}

/** HWIO [h, w, i, o] -> OIHW [o, i, h, w]. */
export function hwioToOihw(data: Float32Array | Int32Array, [h, w, i, o]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let b = 0; b < i; b++)
        for (let a = 0; a < o; a++) {
          out[((a * i + b) * h + y) * w + x] = data[((y * w + x) * i + b) * o + a];
        }
  return out;
}

export interface ImportResult {
  loaded: string[];
  /** Checkpoint tensors (canonical names) that have no entry in the store. */
  unused: string[];
}

/**
 * Load a state dict (checkpoint keys, PyTorch layouts) into the store. Every store entry must be present unless
 * `allowMissing` lists it (or is true); shapes must match after layout conversion.
 */
export function importStateDict(
  store: ParamStore,
  tensors: Map<string, SafeTensor>,
  opts: { allowMissing?: boolean | ((name: string) => boolean) } = {},
): ImportResult {
  const named = canonicalise(tensors);
  const loaded: string[] = [];
  const missing: string[] = [];
  for (const e of store.entries()) {
    const t = named.get(e.name);
    if (!t) {
      const ok = typeof opts.allowMissing === 'function' ? opts.allowMissing(e.name) : opts.allowMissing;
      if (!ok) missing.push(e.name);
      continue;
    }
    const shape = e.variable.shape;
    const size = shape.reduce((a, b) => a * b, 1);
    const tsize = t.shape.reduce((a, b) => a * b, 1);
    const mismatch = () =>
      new Error(
        `weights: "${e.name}" has shape [${t.shape}] in the checkpoint, the model expects ${
          e.meta.torchLayout === 'none' ? '' : `(PyTorch layout of) `
        }[${describeTorchShape(shape, e.meta.torchLayout)}]`,
      );
    if (tsize !== size) throw mismatch();
    if (e.variable.dtype === 'int32') {
      store.assign(e.name, toInt32(t), shape);
    } else if (e.meta.torchLayout === 'linear') {
      if (t.shape.length !== 2 || t.shape[0] !== shape[1] || t.shape[1] !== shape[0]) throw mismatch();
      store.assign(e.name, transpose2d(toFloat32(t), t.shape[0], t.shape[1]), shape);
    } else if (e.meta.torchLayout === 'conv') {
      if (
        t.shape.length !== 4 ||
        t.shape[0] !== shape[3] ||
        t.shape[1] !== shape[2] ||
        t.shape[2] !== shape[0] ||
        t.shape[3] !== shape[1]
      )
        throw mismatch();
      store.assign(e.name, oihwToHwio(toFloat32(t), t.shape), shape);
    } else {
      // same layout; allow [1] <-> [] (DeCLIP's logit_scale) and other pure reshapes of equal size only for scalars
      if (t.shape.length !== shape.length && size !== 1) throw mismatch();
      if (size !== 1 && t.shape.some((d, i) => d !== shape[i])) throw mismatch();
      store.assign(e.name, toFloat32(t), shape);
    }
    loaded.push(e.name);
  }
  if (missing.length)
    throw new Error(`weights: checkpoint lacks ${missing.length} tensor(s) the model needs: ${listNames(missing)}`);
  const have = new Set(store.names());
  return { loaded, unused: [...named.keys()].filter((k) => !have.has(k)) };
}

function describeTorchShape(shape: number[], layout: string): number[] {
  if (layout === 'linear') return [shape[1], shape[0]];
  if (layout === 'conv') return [shape[3], shape[2], shape[0], shape[1]];
  return shape;
}

/**
 * The store as an OpenAI-named state dict in PyTorch layouts: floats as F32, BN num_batches_tracked as I64
 * (as PyTorch saves it). `filter` selects entries (default all).
 */
export function exportStateDict(
  store: ParamStore,
  filter: (name: string) => boolean = () => true,
): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const e of store.entries()) {
    if (!filter(e.name)) continue;
    const shape = e.variable.shape.slice();
    const data = e.variable.dataSync();
    if (e.variable.dtype === 'int32') {
      out.set(e.name, { dtype: 'I64', shape, data: BigInt64Array.from(data as Int32Array, (v) => BigInt(v)) });
    } else if (e.meta.torchLayout === 'linear') {
      out.set(e.name, { shape: [shape[1], shape[0]], data: transpose2d(data as Float32Array, shape[0], shape[1]) });
    } else if (e.meta.torchLayout === 'conv') {
      out.set(e.name, {
        shape: [shape[3], shape[2], shape[0], shape[1]],
        data: hwioToOihw(data as Float32Array, shape),
      });
    } else {
      out.set(e.name, { shape, data: Float32Array.from(data as Float32Array) });
    }
  }
  return out;
}
