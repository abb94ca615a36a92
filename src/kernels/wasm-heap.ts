// Shared plumbing for kernels that work on the tfjs wasm backend's heap: typed access to the backend's internals,
// zero-copy "views" (a TensorInfo registered at an offset inside another tensor's memory), calling other registered
// kernels, and running tf ops inside a kernel.
import * as tf from '@tensorflow/tfjs';
import type { DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

/** The parts of tfjs-backend-wasm's BackendWasm that kernels use (4.22.0). */
export interface WasmBackend {
  dataIdMap: { get(dataId: object): WasmTensorData | undefined; delete(dataId: object): void };
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  readSync(dataId: object): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  wasm: {
    cwrap(name: string, ret: null | string, args: string[]): (...args: unknown[]) => unknown;
    HEAPU8: Uint8Array;
    tfjs: { disposeData(id: number): void };
    /** the memory (threaded build); the single-threaded build has it as asm.memory */
    wasmMemory?: { buffer: ArrayBufferLike };
    asm?: { memory?: { buffer: ArrayBufferLike } };
  };
}

export function asWasm(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

let heapView: Uint8Array | null = null;

/**
 * A byte view of the whole wasm heap as it is now. Memory growth replaces the buffer (a new ArrayBuffer, or a longer
 * SharedArrayBuffer), so take it after every allocation, right before use; the view is reused while the buffer stays.
 */
export function currentHeap(backend: WasmBackend): Uint8Array {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  const buffer = memory ? memory.buffer : backend.wasm.HEAPU8.buffer;
  if (heapView === null || heapView.buffer !== buffer || heapView.byteLength !== buffer.byteLength)
    heapView = new Uint8Array(buffer);
  return heapView;
}

/** The backend-internal integer id of a tensor (what the C++ kernels take). */
export function tensorId(backend: WasmBackend, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('wasm kernel: tensor is not on the wasm backend');
  return d.id;
}

export function memoryOffset(backend: WasmBackend, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d) throw new Error('wasm kernel: tensor is not on the wasm backend');
  return d.memoryOffset;
}

/**
 * A zero-copy view of `shape` starting `elementOffset` elements into `base` (float32/int32: 4 bytes per element).
 * Must be released with releaseView (never through disposeData, which would free() an interior pointer).
 */
export function makeView(backend: WasmBackend, base: TensorInfo, elementOffset: number, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, base.dtype, memoryOffset(backend, base) + elementOffset * 4);
}

export function releaseView(backend: WasmBackend, view: TensorInfo): void {
  const id = tensorId(backend, view);
  backend.dataIdMap.delete(view.dataId);
  backend.wasm.tfjs.disposeData(id); // forgets the id and runs its disposal callbacks (cached XNNPACK operators)
}

/** Same data, another shape (no copy, no refcount change): only for passing to kernels that do not keep it. */
export function withShape(t: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** Call the kernel currently registered for `name` on `backend`'s backend name. */
export function runKernel(
  name: string,
  backendName: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap,
  backend: unknown,
): TensorInfo {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`kernel ${name} is not registered for ${backendName}`);
  const out = k.kernelFunc({ inputs, attrs, backend: backend as never });
  if (Array.isArray(out)) throw new Error(`kernel ${name} returned several outputs`);
  return out;
}

/**
 * Implement a kernel with tf ops (the kernel is a function of other ops): the inputs are wrapped as tensors, `fn` runs
 * in a tidy (ops inside a kernel are not recorded on the gradient tape), and the result's data is handed to the caller.
 */
export function kernelFromOps(
  backend: { incRef(dataId: object): void },
  inputs: TensorInfo[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor,
): TensorInfo {
  const wrapped = inputs.map((info) => {
    backend.incRef(info.dataId);
    return tf.engine().makeTensorFromTensorInfo(info);
  });
  try {
    const out = tf.tidy(() => fn(...wrapped));
    backend.incRef(out.dataId);
    const info = { dataId: out.dataId, shape: out.shape.slice(), dtype: out.dtype };
    out.dispose();
    return info;
  } finally {
    for (const w of wrapped) w.dispose();
  }
}

/**
 * Copy between a dense tensor and a box inside another tensor on the heap (byte offsets; memmove per contiguous run).
 * `direction` 'out': box [begin, begin+size) of `big` (shape bigShape) -> dense `small`; 'in': dense `small` -> box of
 * `big`.
 */
export function copyBox(
  heap: Uint8Array,
  bigOffset: number,
  bigShape: number[],
  begin: number[],
  size: number[],
  smallOffset: number,
  elementBytes: number,
  direction: 'out' | 'in',
): void {
  const rank = bigShape.length;
  if (size.some((d) => d === 0)) return;
  // innermost axis k whose extent is partial: the run covers axes k.. contiguously
  let k = rank - 1;
  while (k >= 0 && size[k] === bigShape[k] && begin[k] === 0) k--;
  const strides = new Array<number>(rank);
  for (let i = rank - 1, s = elementBytes; i >= 0; i--) {
    strides[i] = s;
    s *= bigShape[i]!;
  }
  if (k < 0) {
    // the whole tensor
    const n = strides[0]! * bigShape[0]!;
    if (direction === 'out') heap.copyWithin(smallOffset, bigOffset, bigOffset + n);
    else heap.copyWithin(bigOffset, smallOffset, smallOffset + n);
    return;
  }
  const run = size[k]! * strides[k]!;
  const base = bigOffset + begin.reduce((acc, b, i) => acc + b * strides[i]!, 0);
  const idx = new Array<number>(k).fill(0);
  let small = smallOffset;
  for (;;) {
    let off = base;
    for (let i = 0; i < k; i++) off += idx[i]! * strides[i]!;
    if (direction === 'out') heap.copyWithin(small, off, off + run);
    else heap.copyWithin(off, small, small + run);
    small += run;
    let i = k - 1;
    while (i >= 0) {
      if (++idx[i]! < size[i]!) break;
      idx[i] = 0;
      i--;
    }
    if (i < 0) break;
  }
}

export function bytesPerElement(dtype: string): number {
  if (dtype === 'float32' || dtype === 'int32') return 4;
  if (dtype === 'bool') return 1;
  throw new Error(`wasm kernel: unsupported dtype ${dtype}`);
}
