// DeCLIP's nearest-neighbour FIFO queue of L2-normalised text embeddings (spec §2.3 item 4;
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
  private pointer = 0;
  /** Lazily rebuilt tf copies of the bank (raw entries and 1/max(norm, 1e-12) per entry); dropped on every write. */
  private cache: { entries: tf.Tensor2D; inverseNorms: tf.Tensor2D } | null = null;

  constructor(size: number, dim: number, rng: Rng) {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`NnQueue: size must be a positive integer, got ${size}`);
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`NnQueue: dim must be a positive integer, got ${dim}`);
    this.size = size;
    this.dim = dim;
    this.bank = new Float32Array(size * dim);
    for (let i = 0; i < size; i++) {
      let sq = 0;
      for (let j = 0; j < dim; j++) { const v = rng.normal(); this.bank[i * dim + j] = v; sq += v * v; }
      const inv = 1 / (Math.sqrt(sq) + 1e-10);
      for (let j = 0; j < dim; j++) this.bank[i * dim + j] *= inv;
    }
  }

  private snapshot(): { entries: tf.Tensor2D; inverseNorms: tf.Tensor2D } {
    if (!this.cache) {
      // tf.keep: the cache outlives whatever tidy scope (e.g. the runner's gradient-cache pass) first asks for it.
      const entries = tf.keep(tf.tensor2d(this.bank, [this.size, this.dim]));
      const inverseNorms = tf.keep(tf.tidy(() => tf.div(1, tf.maximum(tf.norm(entries, 'euclidean', 1), 1e-12)).reshape([1, this.size])) as tf.Tensor2D);
      this.cache = { entries, inverseNorms };
    }
    return this.cache;
  }

  /** Indices of the top-1 cosine neighbours of each query row [B, dim]. */
  nearestIndices(queries: tf.Tensor2D): Int32Array {
    if (queries.shape[1] !== this.dim) throw new Error(`NnQueue.lookup: queries have dim ${queries.shape[1]}, queue has ${this.dim}`);
    const { entries, inverseNorms } = this.snapshot();
    const ids = tf.tidy(() => {
      const q = queries; // only indices leave this function (read back), so no gradient can flow
      const qn = tf.div(q, tf.maximum(tf.norm(q, 'euclidean', 1, true), 1e-12));
      return tf.argMax(tf.mul(tf.matMul(qn, entries, false, true), inverseNorms), 1);
    });
    const out = Int32Array.from(ids.dataSync());
    ids.dispose();
    return out;
  }

  /** The nearest entries [B, dim] (raw, as stored; the caller re-normalises). No gradient flows to `queries`. */
  lookup(queries: tf.Tensor2D): tf.Tensor2D {
    const ids = this.nearestIndices(queries);
    const { entries } = this.snapshot();
    return tf.tidy(() => tf.gather(entries, tf.tensor1d(ids, 'int32')) as tf.Tensor2D);
  }

  /** Append rows [n, dim] at the pointer, wrapping to the start. Reads the values; keeps no reference to the tensor. */
  enqueue(rows: tf.Tensor2D): void {
    if (rows.shape[1] !== this.dim) throw new Error(`NnQueue.enqueue: rows have dim ${rows.shape[1]}, queue has ${this.dim}`);
    this.enqueueValues(rows.dataSync() as Float32Array, rows.shape[0]);
  }

  enqueueValues(values: Float32Array, n: number): void {
    let offset = 0;
    let remaining = n;
    while (this.pointer + remaining >= this.size) {
      const take = this.size - this.pointer;
      this.bank.set(values.subarray(offset * this.dim, (offset + take) * this.dim), this.pointer * this.dim);
      offset += take;
      remaining -= take;
      this.pointer = 0;
    }
    if (remaining > 0) {
      this.bank.set(values.subarray(offset * this.dim, (offset + remaining) * this.dim), this.pointer * this.dim);
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
    this.pointer = state.pointer;
    this.invalidate();
  }

  private invalidate(): void {
    if (this.cache) { this.cache.entries.dispose(); this.cache.inverseNorms.dispose(); this.cache = null; }
  }

  dispose(): void { this.invalidate(); }
}
