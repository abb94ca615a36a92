// Fused layer normalisation over the last axis (PyTorch nn.LayerNorm: biased variance, eps inside the sqrt):
//   y = (x - mean) * rstd * gamma + beta,   rstd = 1 / sqrt(var + eps)
// Composed from tf ops (tf.moments etc.), one layer norm is ~10 kernels forward and ~20 backward, each a full pass
// over the activations. Here forward and backward are one kernel each, for wasm (on the heap) and cpu, with float64
// accumulation per row:
//   dbeta = sum_rows dy;  dgamma = sum_rows dy * xhat;  g = dy * gamma;
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
// `layerNorm(x, gamma, beta, eps)` uses the kernels when the active backend has them, else the op composition.
// On wasm with the native BLAS addon on, the same double arithmetic runs natively on the heap, rows spread over
// threads; its sums are taken in another order (partial sums, blocks of rows), so a result's last bit can differ.
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelConfig, KernelFunc, TensorInfo, TypedArray } from '@tensorflow/tfjs';
import { activeBlas } from './native-blas.ts';
import { asWasm, currentHeap, memoryOffset } from './wasm-heap.ts';

export const LAYER_NORM = 'ClipBenchLayerNorm';
export const LAYER_NORM_GRAD = 'ClipBenchLayerNormGrad';

/** y, and per-row mean and rstd (saved for the gradient). */
export function layerNormForward(
  x: TypedArray,
  gamma: TypedArray,
  beta: TypedArray,
  rows: number,
  d: number,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): void {
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[o + i]!;
    const mu = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i]! - mu;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - mu) * rs * gamma[i]! + beta[i]!;
  }
}

export function layerNormBackward(
  dy: TypedArray,
  x: TypedArray,
  mean: TypedArray,
  rstd: TypedArray,
  gamma: TypedArray,
  rows: number,
  d: number,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const dg = new Float64Array(d),
    db = new Float64Array(d);
  for (let r = 0, o = 0; r < rows; r++, o += d) {
    const mu = mean[r]!,
      rs = rstd[r]!;
    let sg = 0,
      sgx = 0;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - mu) * rs,
        g = dy[o + i]!;
      dg[i]! += g * xh;
      db[i]! += g;
      const gg = g * gamma[i]!;
      sg += gg;
      sgx += gg * xh;
    }
    const mg = sg / d,
      mgx = sgx / d;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - mu) * rs;
      dx[o + i] = rs * (dy[o + i]! * gamma[i]! - mg - xh * mgx);
    }
  }
  for (let i = 0; i < d; i++) {
    dgamma[i] = dg[i]!;
    dbeta[i] = db[i]!;
  }
}

function dims(x: TensorInfo, gamma: TensorInfo): { rows: number; d: number } {
  const d = x.shape[x.shape.length - 1]!;
  if (x.dtype !== 'float32') throw new Error(`layerNorm: x must be float32, got ${x.dtype}`);
  if (gamma.shape.length !== 1 || gamma.shape[0] !== d)
    throw new Error(`layerNorm: gamma shape [${gamma.shape}] does not match the last axis ${d} of [${x.shape}]`);
  return { rows: x.shape.reduce((p, v) => p * v, 1) / d, d };
}

// ---- wasm: outputs are allocated first, then heap views are taken (an allocation may grow and detach the heap)
const wasmForward: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWasm(b);
  const { x, gamma, beta } = inputs as Record<string, TensorInfo>;
  const { rows, d } = dims(x!, gamma!);
  const rowShape = x!.shape.slice(0, -1);
  const y = backend.makeOutput(x!.shape.slice(), 'float32');
  const mean = backend.makeOutput(rowShape, 'float32');
  const rstd = backend.makeOutput(rowShape, 'float32');
  const blas = activeBlas();
  if (blas) {
    const o = (t: TensorInfo) => memoryOffset(backend, t);
    const eps = (attrs as { epsilon: number }).epsilon;
    blas.layerNorm(currentHeap(backend), o(x!), o(gamma!), o(beta!), rows, d, eps, o(y), o(mean), o(rstd));
    return [y, mean, rstd];
  }
  const h = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  layerNormForward(h(x!), h(gamma!), h(beta!), rows, d, (attrs as { epsilon: number }).epsilon, h(y), h(mean), h(rstd));
  return [y, mean, rstd];
};

const wasmBackward: KernelFunc = ({ inputs, backend: b }) => {
  const backend = asWasm(b);
  const { dy, x, mean, rstd, gamma } = inputs as Record<string, TensorInfo>;
  const { rows, d } = dims(x!, gamma!);
  const dx = backend.makeOutput(x!.shape.slice(), 'float32');
  const dgamma = backend.makeOutput([d], 'float32');
  const dbeta = backend.makeOutput([d], 'float32');
  const blas = activeBlas();
  if (blas) {
    const o = (t: TensorInfo) => memoryOffset(backend, t);
    const heap = currentHeap(backend);
    blas.layerNormGrad(heap, o(dy!), o(x!), o(mean!), o(rstd!), o(gamma!), rows, d, o(dx), o(dgamma), o(dbeta));
    return [dx, dgamma, dbeta];
  }
  const h = (t: TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  layerNormBackward(h(dy!), h(x!), h(mean!), h(rstd!), h(gamma!), rows, d, h(dx), h(dgamma), h(dbeta));
  return [dx, dgamma, dbeta];
};

interface CpuBackend {
  readSync(dataId: object): TypedArray;
  makeTensorInfo(shape: number[], dtype: string, values: TypedArray): TensorInfo;
}

const cpuForward: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as unknown as CpuBackend;
  const { x, gamma, beta } = inputs as Record<string, TensorInfo>;
  const { rows, d } = dims(x!, gamma!);
  const y = new Float32Array(rows * d),
    mean = new Float32Array(rows),
    rstd = new Float32Array(rows);
  const r = (t: TensorInfo) => backend.readSync(t.dataId);
  layerNormForward(r(x!), r(gamma!), r(beta!), rows, d, (attrs as { epsilon: number }).epsilon, y, mean, rstd);
  const rowShape = x!.shape.slice(0, -1);
  return [
    backend.makeTensorInfo(x!.shape.slice(), 'float32', y),
    backend.makeTensorInfo(rowShape, 'float32', mean),
    backend.makeTensorInfo(rowShape, 'float32', rstd),
  ];
};

const cpuBackward: KernelFunc = ({ inputs, backend: b }) => {
  const backend = b as unknown as CpuBackend;
  const { dy, x, mean, rstd, gamma } = inputs as Record<string, TensorInfo>;
  const { rows, d } = dims(x!, gamma!);
  const dx = new Float32Array(rows * d),
    dgamma = new Float32Array(d),
    dbeta = new Float32Array(d);
  const r = (t: TensorInfo) => backend.readSync(t.dataId);
  layerNormBackward(r(dy!), r(x!), r(mean!), r(rstd!), r(gamma!), rows, d, dx, dgamma, dbeta);
  return [
    backend.makeTensorInfo(x!.shape.slice(), 'float32', dx),
    backend.makeTensorInfo([d], 'float32', dgamma),
    backend.makeTensorInfo([d], 'float32', dbeta),
  ];
};

export function layerNormKernels(): KernelConfig[] {
  return [
    { kernelName: LAYER_NORM, backendName: 'wasm', kernelFunc: wasmForward },
    { kernelName: LAYER_NORM_GRAD, backendName: 'wasm', kernelFunc: wasmBackward },
    { kernelName: LAYER_NORM, backendName: 'cpu', kernelFunc: cpuForward },
    { kernelName: LAYER_NORM_GRAD, backendName: 'cpu', kernelFunc: cpuBackward },
  ];
}

export function layerNormGradient(): GradConfig {
  return {
    kernelName: LAYER_NORM,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [x, gamma, mean, rstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      // one kernel gives all three; computed here, not in the per-input closures (each runs in its own tidy)
      const [dx, dgamma, dbeta] = tf
        .engine()
        .runKernel(LAYER_NORM_GRAD, { dy, x, mean, rstd, gamma }, {}) as tf.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  };
}

/** Whether the active backend has the fused layer norm kernels. */
export function hasFusedLayerNorm(): boolean {
  return tf.getKernel(LAYER_NORM, tf.getBackend()) !== undefined;
}

/** Layer norm over the last axis; the fused kernels where the backend has them, the op composition elsewhere. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  if (hasFusedLayerNorm()) {
    const out = tf.engine().runKernel(LAYER_NORM, { x, gamma, beta }, { epsilon: eps }) as tf.Tensor[];
    out[1]!.dispose();
    out[2]!.dispose(); // the gradient keeps its own references
    return out[0]!;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}
