// QuickGELU, y = x * sigmoid(1.702 x) (OpenAI CLIP's activation), as one kernel forward and one backward on wasm:
// the op composition is three kernels forward (two multiplies, a sigmoid) and about six backward, each a full pass
// over the MLP's widest activations. The kernels run natively through the BLAS addon when it is loaded (rows spread
// over threads), else as a JavaScript loop; quickGelu() uses them only while the native path is on (otherwise the op
// composition runs, as without the addon).
//   dy/dx = s + 1.702 x s (1 - s),   s = sigmoid(1.702 x)
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { activeBlas, nativeOpsActive } from './native-blas.ts';
import { asWasm, currentHeap, memoryOffset } from './wasm-heap.ts';

export const QUICK_GELU = 'ClipBenchQuickGelu';
export const QUICK_GELU_GRAD = 'ClipBenchQuickGeluGrad';

function size(t: TensorInfo): number {
  return t.shape.reduce((p, v) => p * v, 1);
}

function checkFloat32(...ts: TensorInfo[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new Error(`quickGelu: expected float32, got ${t.dtype}`);
}

const forward: KernelFunc = ({ inputs, backend: b }) => {
  const backend = asWasm(b);
  const { x } = inputs as { x: TensorInfo };
  checkFloat32(x);
  const y = backend.makeOutput(x.shape.slice(), 'float32');
  const n = size(x);
  const blas = activeBlas();
  if (blas) blas.quickGelu(currentHeap(backend), memoryOffset(backend, x), memoryOffset(backend, y), n);
  else {
    const xs = backend.typedArrayFromHeap(x) as Float32Array,
      ys = backend.typedArrayFromHeap(y) as Float32Array;
    for (let i = 0; i < n; i++) ys[i] = Math.fround(xs[i]! / (1 + Math.exp(-1.702 * xs[i]!)));
  }
  return y;
};

const backward: KernelFunc = ({ inputs, backend: b }) => {
  const backend = asWasm(b);
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  checkFloat32(dy, x);
  const dx = backend.makeOutput(x.shape.slice(), 'float32');
  const n = size(x);
  const blas = activeBlas();
  if (blas) {
    const o = (t: TensorInfo) => memoryOffset(backend, t);
    blas.quickGeluGrad(currentHeap(backend), o(dy), o(x), o(dx), n);
  } else {
    const xs = backend.typedArrayFromHeap(x) as Float32Array,
      gs = backend.typedArrayFromHeap(dy) as Float32Array,
      out = backend.typedArrayFromHeap(dx) as Float32Array;
    for (let i = 0; i < n; i++) {
      const s = 1 / (1 + Math.exp(-1.702 * xs[i]!));
      out[i] = gs[i]! * (s + 1.702 * xs[i]! * s * (1 - s));
    }
  }
  return dx;
};

export function quickGeluKernels(): KernelConfig[] {
  return [
    { kernelName: QUICK_GELU, backendName: 'wasm', kernelFunc: forward },
    { kernelName: QUICK_GELU_GRAD, backendName: 'wasm', kernelFunc: backward },
  ];
}

export function quickGeluGradient(): GradConfig {
  return {
    kernelName: QUICK_GELU,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [x] = saved as [tf.Tensor];
      return { x: () => tf.engine().runKernel(QUICK_GELU_GRAD, { dy: dy as tf.Tensor, x }, {}) as tf.Tensor };
    },
  };
}

/** Whether quickGelu() runs as the fused kernel (wasm with the native path on). */
export function hasFusedQuickGelu(): boolean {
  return nativeOpsActive();
}

/** x * sigmoid(1.702 x) as one kernel; callers check hasFusedQuickGelu() first. */
export function fusedQuickGelu<T extends tf.Tensor>(x: T): T {
  return tf.engine().runKernel(QUICK_GELU, { x }, {}) as T;
}
