// Concat for the wasm backend: one memmove per contiguous run, heap to heap (the stock 4.22 kernel allocates a
// subarray per row and input, e.g. 15 k of them for the gradient of a q/k/v split of [64,77,192]).
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasm, bytesPerElement, copyBox, memoryOffset } from './wasm-heap.ts';

export function concatKernels(stockConcat: KernelFunc): KernelConfig[] {
  const concat: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TensorInfo[];
    if (inputs.length === 0 || inputs[0]!.dtype === 'string') return stockConcat(args);
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, inputs[0]!.shape)[0]!;
    tf.backend_util.assertParamsConsistent(
      inputs.map((t) => t.shape),
      axis,
    );
    const outShape = tf.backend_util.computeOutShape(
      inputs.map((t) => t.shape),
      axis,
    );
    const backend = asWasm(args.backend);
    const dtype = inputs[0]!.dtype;
    if (inputs.some((t) => t.dtype !== dtype)) throw new Error(`Concat: mixed dtypes ${inputs.map((t) => t.dtype)}`);
    const out = backend.makeOutput(outShape, dtype);
    const heap = backend.wasm.HEAPU8,
      outOffset = memoryOffset(backend, out),
      eb = bytesPerElement(dtype);
    const begin = new Array<number>(outShape.length).fill(0);
    for (const t of inputs) {
      if (t.shape[axis] === 0) continue;
      copyBox(heap, outOffset, outShape, begin, t.shape, memoryOffset(backend, t), eb, 'in');
      begin[axis]! += t.shape[axis]!;
    }
    return out;
  };
  return [{ kernelName: 'Concat', backendName: 'wasm', kernelFunc: concat }];
}
