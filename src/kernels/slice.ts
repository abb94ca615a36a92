// Slice and SplitV for the wasm backend. The stock 4.22 Slice first copies the WHOLE input out of the heap
// (readSync), then copies each row through a fresh subarray; SplitV runs it once per part. Here a slice is one
// memmove per contiguous run, directly heap to heap.
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasm, bytesPerElement, copyBox, memoryOffset } from './wasm-heap.ts';
import type { WasmBackend } from './wasm-heap.ts';

function sliceHeap(backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype); // allocate before reading HEAPU8 (growth replaces the buffer)
  copyBox(
    backend.wasm.HEAPU8,
    memoryOffset(backend, x),
    x.shape,
    begin,
    size,
    memoryOffset(backend, out),
    bytesPerElement(x.dtype),
    'out',
  );
  return out;
}

export function sliceKernels(stockSlice: KernelFunc, stockSplitV: KernelFunc): KernelConfig[] {
  const slice: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return stockSlice(args);
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    return sliceHeap(asWasm(args.backend), x, b, s);
  };
  const splitV: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === 'string') return stockSplitV(args);
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
    const backend = asWasm(args.backend);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((n) => {
      const size = x.shape.slice();
      size[ax] = n;
      const out = sliceHeap(backend, x, begin.slice(), size);
      begin[ax]! += n;
      return out;
    });
  };
  return [
    { kernelName: 'Slice', backendName: 'wasm', kernelFunc: slice },
    { kernelName: 'SplitV', backendName: 'wasm', kernelFunc: splitV },
  ];
}
