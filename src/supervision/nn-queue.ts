// DeCLIP's nearest-neighbour FIFO queue of L2-normalised text embeddings (docs/methods.md, DeCLIP item 4;
// seed: nnclr_modules/{nn_memory_bank,memory_bank_cuda}.py).
// - init: random normal entries, each divided by (its norm + 1e-10);
// - lookup: cosine top-1 against the current contents (query and entries normalised like F.normalize), returns the raw
//   entries; never mutates, so every look-up of a step sees the same snapshot as long as enqueue waits until afterStep;
// - enqueue: writes rows at the pointer and wraps around to the start (the imported CUDA bank's loop:
//   while ptr + n >= size fill to the end and restart at 0), no gradient (values are copied out of tf).
// The contents are training state: getState/setState round-trip a Float32Array [size·dim] and the pointer.
//
// Where the entries live depends on the backend (chosen when the queue is made):
//   host   (wasm, cpu) the entries are a JS Float32Array; a look-up reads the arg-max indices from the backend's host
//          memory (src/host-values.ts: no copy, no device read) and uploads the chosen rows;
//   device (webgpu, tensorflow) the entries and their normalised copy are tensors: look-up and enqueue never leave
//          the device; a host mirror for checkpoints is filled from one asynchronous read of the enqueued rows.
// Inside a training step an enqueue is provisional (src/train/step-effects.ts): kept when the step is applied, undone
// when the guard rejects it.
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { hostView, isHostMemoryBackend } from '../host-values.ts';
import { detach } from '../nn/detach.ts';
import { insideStep, recordStepEffect } from '../train/step-effects.ts';

export interface NnQueueState {
  size: number;
  dim: number;
  pointer: number;
  /** Row-major [size, dim]: entry i occupies [i·dim, (i+1)·dim). */
  bank: Float32Array;
}

/** Rows of x normalised like F.normalize (x / max(||x||, 1e-12)). */
function normaliseRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)));
}

/** base with rows [at, at + rows) replaced by `rows` (no wrap-around; at + rows <= base rows). */
function writeRows(base: tf.Tensor2D, rows: tf.Tensor2D, at: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [size, dim] = base.shape;
    const n = rows.shape[0];
    const parts: tf.Tensor2D[] = [];
    if (at > 0) parts.push(tf.slice(base, [0, 0], [at, dim]));
    parts.push(rows);
    if (at + n < size) parts.push(tf.slice(base, [at + n, 0], [size - at - n, dim]));
    return parts.length === 1 ? tf.clone(parts[0]!) : tf.concat(parts, 0);
  });
}

export class NnQueue {
  readonly size: number;
  readonly dim: number;
  readonly placement: 'host' | 'device';
  /** The entries on the host: the queue itself (host placement) or the checkpoint mirror (device placement). */
  private bank: Float32Array;
  /** Host placement: the entries normalised like F.normalize (x / max(||x||, 1e-12)), transposed [dim, size], kept in
   *  step with `bank` row by row, so a look-up is one plain matMul(queries [B, dim], normalisedT [dim, size]) + argMax. */
  private normalisedT: Float32Array | null = null;
  /** Write position of `bank` (for the device placement: of the mirror, which may lag the device by pending rows). */
  private pointer = 0;
  /** Host placement: tf copy of `normalisedT`, rebuilt lazily after writes (one 4·size·dim-byte upload per step). */
  private cache: tf.Tensor2D | null = null;
  /** Device placement: the entries [size, dim], their normalised rows, the device's write position. */
  private deviceBank: tf.Tensor2D | null = null;
  private deviceNormalised: tf.Tensor2D | null = null;
  private devicePointer = 0;
  /** Device placement: enqueued rows not yet copied into the mirror (their read is in flight). */
  private pendingRows: Array<Promise<Float32Array>> = [];

  constructor(
    size: number,
    dim: number,
    rng: Rng,
    placement: 'host' | 'device' = isHostMemoryBackend() ? 'host' : 'device',
  ) {
    if (!Number.isInteger(size) || size <= 0)
      throw new RangeError(`NnQueue: size must be a positive integer, got ${size}`);
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`NnQueue: dim must be a positive integer, got ${dim}`);
    this.size = size;
    this.dim = dim;
    this.placement = placement;
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
    this.rebuild();
  }

  /** Derived copies from `bank`: the normalised transpose (host) or the device tensors (device). */
  private rebuild(): void {
    if (this.placement === 'host') {
      this.normalisedT ??= new Float32Array(this.size * this.dim);
      this.refreshNormalised(0, this.size);
      this.invalidate();
      return;
    }
    this.disposeDevice();
    this.deviceBank = tf.keep(tf.tensor2d(this.bank, [this.size, this.dim]));
    this.deviceNormalised = tf.keep(normaliseRows(this.deviceBank));
    this.devicePointer = this.pointer;
  }

  /** Recompute the normalised, transposed copy of entries [from, to). */
  private refreshNormalised(from: number, to: number): void {
    const { size, dim, bank } = this;
    const normalisedT = this.normalisedT!;
    for (let i = from; i < to; i++) {
      let sq = 0;
      for (let j = i * dim; j < (i + 1) * dim; j++) sq += bank[j] * bank[j];
      const inv = 1 / Math.max(Math.sqrt(sq), 1e-12);
      for (let j = 0; j < dim; j++) normalisedT[j * size + i] = bank[i * dim + j] * inv;
    }
  }

  private snapshot(): tf.Tensor2D {
    // keep: look-ups run inside the caller's tf.tidy, which must not dispose the cached copy
    this.cache ??= tf.keep(tf.tensor2d(this.normalisedT!, [this.dim, this.size]));
    return this.cache;
  }

  /** Indices of the top-1 cosine neighbours of each query row [B, dim] (host placement). */
  nearestIndices(queries: tf.Tensor2D): Int32Array {
    if (queries.shape[1] !== this.dim)
      throw new Error(`NnQueue.lookup: queries have dim ${queries.shape[1]}, queue has ${this.dim}`);
    const entriesT = this.snapshot();
    const ids = tf.tidy(() => {
      const q = queries; // only indices leave this function, so no gradient can flow
      const qn = tf.div(q, tf.maximum(tf.norm(q, 'euclidean', 1, true), 1e-12));
      return tf.argMax(tf.matMul(qn, entriesT), 1);
    });
    const out = Int32Array.from(hostView(ids));
    ids.dispose();
    return out;
  }

  /** The nearest entries [B, dim] (raw, as stored; the caller re-normalises). A fresh tensor: no gradient flows. */
  lookup(queries: tf.Tensor2D): tf.Tensor2D {
    if (this.placement === 'device') {
      if (queries.shape[1] !== this.dim)
        throw new Error(`NnQueue.lookup: queries have dim ${queries.shape[1]}, queue has ${this.dim}`);
      return tf.tidy(() => {
        const q = detach(queries);
        const qn = tf.div(q, tf.maximum(tf.norm(q, 'euclidean', 1, true), 1e-12));
        const ids = tf.argMax(tf.matMul(qn, this.deviceNormalised!, false, true), 1);
        return tf.gather(this.deviceBank!, ids) as tf.Tensor2D;
      });
    }
    const ids = this.nearestIndices(queries);
    const rows = new Float32Array(ids.length * this.dim);
    ids.forEach((id, r) => rows.set(this.bank.subarray(id * this.dim, (id + 1) * this.dim), r * this.dim));
    return tf.tensor2d(rows, [ids.length, this.dim]);
  }

  /**
   * Append rows [n, dim] at the pointer, wrapping to the start. Keeps no reference to the tensor. Inside a training
   * step the write is provisional until the step's verdict (step-effects.ts).
   */
  enqueue(rows: tf.Tensor2D): void {
    if (rows.shape[1] !== this.dim)
      throw new Error(`NnQueue.enqueue: rows have dim ${rows.shape[1]}, queue has ${this.dim}`);
    const n = rows.shape[0];
    if (this.placement === 'host') {
      const values = new Float32Array(hostView(rows) as Float32Array);
      if (!insideStep()) this.enqueueValues(values, n);
      else
        recordStepEffect({
          settle: (applied) => {
            if (applied) this.enqueueValues(values, n);
          },
        });
      return;
    }
    // device: write on the device now, copy into the mirror once the rows' read arrives
    const copy = tf.keep(detach(rows));
    this.writeDevice(copy);
    const read = copy.data().then((v) => {
      copy.dispose();
      return v as Float32Array;
    });
    this.pendingRows.push(read);
    recordStepEffect({
      settle: async (applied) => {
        if (applied) await this.flush();
        else {
          await Promise.allSettled(this.pendingRows);
          this.pendingRows = [];
          this.rebuild();
        }
      },
    });
  }

  /** Device placement: write rows at the device pointer with wrap-around, bank and normalised copy. */
  private writeDevice(rows: tf.Tensor2D): void {
    const n = rows.shape[0];
    const normalised = normaliseRows(rows);
    let offset = 0;
    while (offset < n) {
      const take = Math.min(n - offset, this.size - this.devicePointer);
      const [bank, norm] = tf.tidy(() => {
        const r = tf.slice(rows, [offset, 0], [take, this.dim]);
        const nr = tf.slice(normalised, [offset, 0], [take, this.dim]);
        return [
          writeRows(this.deviceBank!, r, this.devicePointer),
          writeRows(this.deviceNormalised!, nr, this.devicePointer),
        ];
      });
      this.deviceBank!.dispose();
      this.deviceNormalised!.dispose();
      this.deviceBank = tf.keep(bank);
      this.deviceNormalised = tf.keep(norm);
      offset += take;
      this.devicePointer = (this.devicePointer + take) % this.size;
    }
    normalised.dispose();
  }

  /** Device placement: wait for the rows enqueued so far and copy them into the host mirror (getState needs it). */
  async flush(): Promise<void> {
    while (this.pendingRows.length > 0) {
      const read = this.pendingRows.shift()!;
      const values = await read;
      this.writeMirror(values, values.length / this.dim);
    }
  }

  enqueueValues(values: Float32Array, n: number): void {
    if (this.placement === 'device') {
      const rows = tf.tensor2d(values.subarray(0, n * this.dim), [n, this.dim]);
      this.writeDevice(rows);
      rows.dispose();
      this.writeMirror(values, n);
      return;
    }
    this.writeMirror(values, n);
  }

  /** Rows into `bank` at the pointer (wrapping), and the host placement's normalised copy. */
  private writeMirror(values: Float32Array, n: number): void {
    const host = this.placement === 'host';
    let offset = 0;
    let remaining = n;
    while (this.pointer + remaining >= this.size) {
      const take = this.size - this.pointer;
      this.bank.set(values.subarray(offset * this.dim, (offset + take) * this.dim), this.pointer * this.dim);
      if (host) this.refreshNormalised(this.pointer, this.size);
      offset += take;
      remaining -= take;
      this.pointer = 0;
    }
    if (remaining > 0) {
      this.bank.set(values.subarray(offset * this.dim, (offset + remaining) * this.dim), this.pointer * this.dim);
      if (host) this.refreshNormalised(this.pointer, this.pointer + remaining);
      this.pointer += remaining;
    }
    if (host) this.invalidate();
  }

  getState(): NnQueueState {
    if (this.pendingRows.length > 0)
      throw new Error(
        'NnQueue.getState: rows enqueued on the device are still being read; await flushStepEffects() (src/train/step-effects.ts) first',
      );
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
    this.pendingRows = [];
    this.rebuild();
  }

  private invalidate(): void {
    if (this.cache) {
      this.cache.dispose();
      this.cache = null;
    }
  }

  private disposeDevice(): void {
    this.deviceBank?.dispose();
    this.deviceNormalised?.dispose();
    this.deviceBank = null;
    this.deviceNormalised = null;
  }

  dispose(): void {
    this.invalidate();
    this.disposeDevice();
  }
}
