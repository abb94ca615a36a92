// Sum over leading axes on wasm (the bias gradient of every linear layer: the sum over all rows of [..., N]) through
// the native BLAS addon. The stock wasm kernel first transposes the reduced axes to the end (a full copy), then sums
// each row; the addon sums the columns in place, row after row in float, so the floats are the same. Other
// reductions, and every reduction without the addon, run the stock kernel.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import { activeBlas } from './native-blas.ts';
import { asWasm, currentHeap, memoryOffset } from './wasm-heap.ts';

/**
 * When `axis` names exactly the first k axes of `shape` (0 < k < rank): k and the [rows, cols] matrix the sum reduces
 * over its rows; else null.
 */
export function leadingAxes(
  shape: number[],
  axis: number | number[],
): { k: number; rows: number; cols: number } | null {
  const rank = shape.length;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort(
    (a, b) => a - b,
  );
  const k = axes.length;
  if (k === 0 || k >= rank || axes.some((a, i) => a !== i)) return null;
  const size = (dims: number[]) => dims.reduce((p, v) => p * v, 1);
  return { k, rows: size(shape.slice(0, k)), cols: size(shape.slice(k)) };
}

function sumKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const blas = activeBlas();
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const lead = x.dtype === 'float32' ? leadingAxes(x.shape, axis) : null;
    if (!blas || !lead || lead.rows < 2 || lead.cols < 2) return stock(args);
    const backend = asWasm(args.backend);
    const kept = x.shape.slice(lead.k);
    const out = backend.makeOutput(keepDims ? [...new Array<number>(lead.k).fill(1), ...kept] : kept, 'float32');
    blas.columnSum(currentHeap(backend), memoryOffset(backend, x), lead.rows, lead.cols, memoryOffset(backend, out));
    return out;
  };
}

export function sumKernels(): KernelConfig[] {
  const stock = tf.getKernel('Sum', 'wasm');
  if (!stock) throw new Error('wasm Sum kernel not found: is @tensorflow/tfjs-backend-wasm imported?');
  return [{ kernelName: 'Sum', backendName: 'wasm', kernelFunc: sumKernel(stock.kernelFunc) }];
}
