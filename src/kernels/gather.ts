// GatherV2 for the wasm backend: one memmove per gathered slice, heap to heap. Used by token embeddings (4928 rows of
// a 49408 x W table per CLIP batch); the stock 4.22 kernel builds a closure per index to check bounds, gathers element
// by element.
//   x as [batch, outer, dim, slice], indices as [batch, n]  ->  out[b, o, i] = x[b, o, indices[b, i]]
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasm, bytesPerElement, memoryOffset } from './wasm-heap.ts';

export function gatherKernels(stockGather: KernelFunc): KernelConfig[] {
  const gather: KernelFunc = (args) => {
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    if (x.dtype === 'string' || indices.dtype !== 'int32') return stockGather(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
      x as tf.Tensor,
      indices as tf.Tensor,
      ax,
      batchDims,
    );
    const backend = asWasm(args.backend);
    const ids = backend.typedArrayFromHeap(indices) as Int32Array;
    const dim = info.dimSize;
    for (let i = 0; i < ids.length; i++) {
      const k = ids[i]!;
      if (k < 0 || k >= dim) throw new Error(`GatherV2: the index value ${k} is not in [0, ${dim - 1}]`);
    }
    const out = backend.makeOutput(info.outputShape, x.dtype); // before taking the heap (growth detaches it)
    const heap = backend.wasm.HEAPU8,
      eb = bytesPerElement(x.dtype);
    const idx = backend.typedArrayFromHeap(indices) as Int32Array; // re-read: the allocation may have moved the buffer
    const slice = info.sliceSize * eb,
      n = idx.length / info.batchSize;
    const xOff = memoryOffset(backend, x);
    let o = memoryOffset(backend, out);
    for (let b = 0; b < info.batchSize; b++) {
      for (let outer = 0; outer < info.outerSize; outer++) {
        const base = xOff + (b * info.outerSize + outer) * dim * slice;
        for (let i = 0; i < n; i++, o += slice) {
          const src = base + idx[b * n + i]! * slice;
          heap.copyWithin(o, src, src + slice);
        }
      }
    }
    return out;
  };
  return [{ kernelName: 'GatherV2', backendName: 'wasm', kernelFunc: gather }];
}
