// OneHot for the wasm backend. The stock 4.22 kernel writes int32 bit patterns whatever the dtype, so
// tf.oneHot(ids, n, 1, 0, 'float32') gives 1.4e-45 instead of 1.0 (CLIP loss labels). Filled here on the heap.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasm } from './wasm-heap.ts';

const oneHot: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWasm(b);
  const { indices } = inputs as { indices: TensorInfo };
  const { depth, onValue, offValue, dtype } = attrs as {
    depth: number;
    onValue: number;
    offValue: number;
    dtype: string;
  };
  if (indices.dtype !== 'int32') throw new Error(`OneHot: indices must be int32, got ${indices.dtype}`);
  if (dtype !== 'float32' && dtype !== 'int32') throw new Error(`OneHot: dtype must be float32 or int32, got ${dtype}`);
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`OneHot: depth must be a positive integer, got ${depth}`);
  const out = backend.makeOutput([...indices.shape, depth], dtype);
  const vals = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  vals.fill(offValue);
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < ids.length; i++) {
    const k = ids[i]!;
    if (k >= 0 && k < depth) vals[i * depth + k] = onValue;
  }
  return out;
};

export function oneHotKernels(): KernelConfig[] {
  return [{ kernelName: 'OneHot', backendName: 'wasm', kernelFunc: oneHot }];
}
