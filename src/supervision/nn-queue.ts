// DeCLIP's nearest-neighbour FIFO queue of L2-normalised text embeddings (docs/methods.md, DeCLIP item 4;
// seed: nnclr_modules/{nn_memory_bank,memory_bank_cuda}.py).
// - init: random normal entries, each divided by (its norm + 1e-10);
// - lookup: cosine top-1 against the current contents (query and entries normalised like F.normalize), returns the raw
//   entries; never mutates, so every look-up of a step sees the same snapshot as long as enqueue waits until afterStep;
// - enqueue: writes rows at the pointer and wraps around to the start (the imported CUDA bank's loop:
//   while ptr + n >= size fill to the end and restart at 0), no gradient (values are copied out of tf).
// The contents are training state: getState/setState round-trip a Float32Array [size·dim] and the pointer.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';

export interface NnQueueState {
  size: number;
  dim: number;
  pointer: number;
  /** Row-major [size, dim]: entry i occupies [i·dim, (i+1)·dim). */
  bank: Float32Array;
}

export class NnQueue {
  readonly size: number;
  readonly dim: number;
  private bank: Float32Array;
  /** The entries normalised like F.normalize (x / max(||x||, 1e-12)), transposed [dim, size], kept in step with
   *  `bank` row by row, so a look-up is one plain matMul(queries [B, dim], normalisedT [dim, size]) + argMax. */
  private normalisedT: Float32Array;
  private pointer = 0;
  /** tf copy of `normalisedT`, rebuilt lazily after writes (one 4·size·dim-byte upload per step). */
  private cache: tf.Tensor2D | null = null;

  constructor(size: number, dim: number, rng: Rng) {
    if (!Number.isInteger(size) || size <= 0)
      throw new RangeError(`NnQueue: size must be a positive integer, got ${size}`);
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`NnQueue: dim must be a positive integer, got ${dim}`);
    this.size = size;
    this.dim = dim;
    this.bank = new Float32Array(size * dim);
    for (let i = 0; i < size; i++) {
      let sq = 0;
      for (let j = 0; j < dim; j++) {
        const v = rng.normal();
        this.bank[i * dim + j] = v;
        sq += v * v;
      }
      const inv = 1 / (Math.sqrt(sq) + 1e-10);
      for (let j = 0; j < dim; j++) this.bank[i * dim + j] *= inv;
    }
    this.normalisedT = new Float32Array(size * dim);
    this.refreshNormalised(0, size);
  }

  /** Recompute the normalised, transposed copy of entries [from, to). */
  private refreshNormalised(from: number, to: number): void {
    const { size, dim, bank, normalisedT } = this;
    for (let i = from; i < to; i++) {
      let sq = 0;
      for (let j = i * dim; j < (i + 1) * dim; j++) sq += bank[j] * bank[j];
      const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
      for (let j = 0; j < dim; j++) normalisedT[j * size + i] = bank[i * dim + j] * inv;
    }
  }

  private snapshot(): tf.Tensor2D {
    // keep: look-ups run inside the caller's tf.tidy, which must not dispose the cached copy
    this.cache ??= tf.keep(tf.tensor2d(this.normalisedT, [this.dim, this.size]));
    return this.cache;
  }

  /** Indices of the top-1 cosine neighbours of each query row [B, dim]. */
  nearestIndices(queries: tf.Tensor2D): Int32Array {
    if (queries.shape[1] !== this.dim)
      throw new Error(`NnQueue.lookup: queries have dim ${queries.shape[1]}, queue has ${this.dim}`);
    const entriesT = this.snapshot();
    const ids = tf.tidy(() => {
      const q = queries; // only indices leave this function (read back), so no gradient can flow
      const qn = tf.div(q, tf.maximum(tf.norm(q, 'euclidean', 1, true), 1e-12));
      return tf.argMax(tf.matMul(qn, entriesT), 1);
    });
    const out = Int32Array.from(ids.dataSync());
    ids.dispose();
    return out;
  }

  /** The nearest entries [B, dim] (raw, as stored; the caller re-normalises). A fresh tensor: no gradient flows. */
  lookup(queries: tf.Tensor2D): tf.Tensor2D {
    const ids = this.nearestIndices(queries);
    const rows = new Float32Array(ids.length * this.dim);
    ids.forEach((id, r) => rows.set(this.bank.subarray(id * this.dim, (id + 1) * this.dim), r * this.dim));
    return tf.tensor2d(rows, [ids.length, this.dim]);
  }

  /** Append rows [n, dim] at the pointer, wrapping to the start. Reads the values; keeps no reference to the tensor. */
  enqueue(rows: tf.Tensor2D): void {
    if (rows.shape[1] !== this.dim)
      throw new Error(`NnQueue.enqueue: rows have dim ${rows.shape[1]}, queue has ${this.dim}`);
    this.enqueueValues(rows.dataSync() as Float32Array, rows.shape[0]);
  }

  enqueueValues(values: Float32Array, n: number): void {
    let offset = 0;
    let remaining = n;
    while (this.pointer + remaining >= this.size) {
      const take = this.size - this.pointer;
      this.bank.set(values.subarray(offset * this.dim, (offset + take) * this.dim), this.pointer * this.dim);
      this.refreshNormalised(this.pointer, this.size);
      offset += take;
      remaining -= take;
      this.pointer = 0;
    }
    if (remaining > 0) {
      this.bank.set(values.subarray(offset * this.dim, (offset + remaining) * this.dim), this.pointer * this.dim);
      this.refreshNormalised(this.pointer, this.pointer + remaining);
      this.pointer += remaining;
    }
    this.invalidate();
  }

  getState(): NnQueueState {
    return { size: this.size, dim: this.dim, pointer: this.pointer, bank: this.bank.slice() };
  }

  setState(state: NnQueueState): void {
    if (state.size !== this.size || state.dim !== this.dim) {
      throw new Error(`NnQueue.setState: state is [${state.size}, ${state.dim}], queue is [${this.size}, ${this.dim}]`);
    }
    if (!(state.bank instanceof Float32Array) || state.bank.length !== this.size * this.dim) {
      throw new Error(`NnQueue.setState: bank must be a Float32Array of ${this.size * this.dim} values`);
    }
    if (!Number.isInteger(state.pointer) || state.pointer < 0 || state.pointer >= this.size) {
      throw new Error(`NnQueue.setState: pointer ${state.pointer} out of range [0, ${this.size})`);
    }
    this.bank = state.bank.slice();
    this.refreshNormalised(0, this.size);
    this.pointer = state.pointer;
    this.invalidate();
  }

  private invalidate(): void {
    if (this.cache) {
      this.cache.dispose();
      this.cache = null;
    }
  }

  dispose(): void {
    this.invalidate();
  }
}
