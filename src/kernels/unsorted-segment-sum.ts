// UnsortedSegmentSum: out[s] = sum of x rows whose segment id is s. It is the gradient of tf.gather (token
// embeddings). wasm 4.22 has no kernel for it; the stock cpu kernel loops over every segment, O(S·N·D) (62 G
// multiply-adds for a 49408-token vocabulary). Both are replaced by one O(N·D) pass over the rows.
// Semantics (TensorFlow): segmentIds has the shape of a prefix of x.shape; out = [numSegments, ...x.shape[ids.rank:]];
// ids outside [0, numSegments) are dropped.
import type { KernelConfig, KernelFunc, TensorInfo, TypedArray } from '@tensorflow/tfjs';
import { asWasm } from './wasm-heap.ts';

function check(
  x: TensorInfo,
  ids: TensorInfo,
  numSegments: number,
): { rows: number; depth: number; outShape: number[] } {
  if (!Number.isInteger(numSegments) || numSegments < 0)
    throw new Error(`UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`);
  if (ids.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${ids.dtype}`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new Error(`UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`);
  const k = ids.shape.length;
  if (k > x.shape.length || ids.shape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${ids.shape}] is not a prefix of x shape [${x.shape}]`);
  }
  const rows = ids.shape.reduce((p, d) => p * d, 1);
  const depth = x.shape.slice(k).reduce((p, d) => p * d, 1);
  return { rows, depth, outShape: [numSegments, ...x.shape.slice(k)] };
}

/** out (zeroed, numSegments·depth) += rows of x by segment id. */
export function segmentSumInto(
  out: TypedArray,
  x: TypedArray,
  ids: Int32Array,
  rows: number,
  depth: number,
  numSegments: number,
): void {
  for (let r = 0; r < rows; r++) {
    const s = ids[r]!;
    if (s < 0 || s >= numSegments) continue;
    const o = s * depth,
      i = r * depth;
    for (let d = 0; d < depth; d++) out[o + d]! += x[i + d]!;
  }
}

const wasmKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWasm(b);
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const { rows, depth, outShape } = check(x, segmentIds, numSegments);
  const out = backend.makeOutput(outShape, x.dtype);
  const outVals = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  outVals.fill(0); // wasm heap memory is not zeroed
  segmentSumInto(
    outVals,
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(segmentIds) as Int32Array,
    rows,
    depth,
    numSegments,
  );
  return out;
};

interface CpuBackend {
  readSync(dataId: object): TypedArray;
  makeTensorInfo(shape: number[], dtype: string, values: TypedArray): TensorInfo;
}

const cpuKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as CpuBackend;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const { rows, depth, outShape } = check(x, segmentIds, numSegments);
  const outVals = x.dtype === 'int32' ? new Int32Array(numSegments * depth) : new Float32Array(numSegments * depth);
  segmentSumInto(
    outVals,
    backend.readSync(x.dataId),
    backend.readSync(segmentIds.dataId) as Int32Array,
    rows,
    depth,
    numSegments,
  );
  return backend.makeTensorInfo(outShape, x.dtype, outVals);
};

export function unsortedSegmentSumKernels(): KernelConfig[] {
  return [
    { kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: wasmKernel },
    { kernelName: 'UnsortedSegmentSum', backendName: 'cpu', kernelFunc: cpuKernel },
  ];
}
