// Shared plumbing for kernels that work on the tfjs wasm backend's heap: typed access to the backend's internals,
// zero-copy "views" (a TensorInfo registered at an offset inside another tensor's memory), calling other registered
// kernels, and running tf ops inside a kernel.
import * as tf from '@tensorflow/tfjs';
import type { DataType, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

interface WasmTensorData { id: number; memoryOffset: number; shape: number[]; dtype: DataType; refCount: number }

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
  };
}

export function asWasm(backend: unknown): WasmBackend {
  return backend as WasmBackend;
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
  name: string, backendName: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap, backend: unknown,
): TensorInfo {
  const k = tf.getKernel(name, backendName);
  if (!k) throw new Error(`kernel ${name} is not registered for ${backendName}`);
  const out = k.kernelFunc({ inputs, attrs, backend: backend as never });
  if (Array.isArray(out)) throw new Error(`kernel ${name} returned several outputs`);
  return out;
}

/**
 * Implement a kernel with tf ops (way 1 of node-engineering.md §2): the inputs are wrapped as tensors, `fn` runs in a
 * tidy (ops inside a kernel are not recorded on the gradient tape), and the result's data is handed to the caller.
 */
export function kernelFromOps(backend: { incRef(dataId: object): void }, inputs: TensorInfo[], fn: (...xs: tf.Tensor[]) => tf.Tensor): TensorInfo {
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
