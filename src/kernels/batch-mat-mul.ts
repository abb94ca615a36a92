// BatchMatMul (and _FusedMatMul) for the wasm backend, on one of two paths:
//
// native BLAS (when the addon in native/blas is built and enabled, see native-blas.ts): one sgemm call per product,
//   or per batch of products, straight on the operands' memory in the wasm heap: transposes are BLAS flags, a shared
//   right-hand side folds the left batch into rows, batched operands are strided (stride 0 for a broadcast operand);
//   _FusedMatMul adds bias and activation in place afterwards.
// XNNPACK (otherwise): stock tfjs-backend-wasm 4.22 only calls XNNPACK when transposeA = transposeB = false and both
//   batch sizes are 1; everything else (every matMul gradient, [B,T,K]x[K,N], attention) runs a naive blocked loop
//   20-45x slower. Here transposes are materialised with the wasm Transpose kernel, a shared right-hand side folds the
//   left batch into rows, and batched x batched products make one XNNPACK call per batch item on zero-copy heap views.
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { activeBlas } from './native-blas.ts';
import type { BlasAddon } from './native-blas.ts';
import {
  asWasm,
  currentHeap,
  kernelFromOps,
  makeView,
  memoryOffset,
  releaseView,
  runKernel,
  tensorId,
  withShape,
} from './wasm-heap.ts';
import type { WasmBackend } from './wasm-heap.ts';

type WasmBatchMatMul = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

let xnnBatchMatMul: WasmBatchMatMul | null = null;

/**
 * How products were routed (for tests and profiling): native sgemm calls (one per product or batch of products),
 * XNNPACK calls, and whole products left to the stock loop.
 */
export const batchMatMulRouting = { blasCalls: 0, xnnCalls: 0, stockLoopProducts: 0 };
let stockBatchMatMul: KernelFunc | null = null;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** out[M,N] = a[M,K] x b[K,N], all three given as rank-3 TensorInfos with batch 1 (the XNNPACK path). */
function xnnMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, out: TensorInfo): void {
  batchMatMulRouting.xnnCalls++;
  xnnBatchMatMul!(
    tensorId(backend, a),
    shapeBytes(a.shape),
    3,
    tensorId(backend, b),
    shapeBytes(b.shape),
    3,
    false,
    false,
    tensorId(backend, out),
  );
}

interface Operands {
  a: TensorInfo; // [batchA, M, K], row-major, not transposed
  b: TensorInfo; // [batchB, K, N]
  temporaries: TensorInfo[];
  outShape: number[];
  batchShapeA: number[];
  batchShapeB: number[];
  batchShapeOut: number[];
}

function transposeLast2(backend: WasmBackend, t: TensorInfo): TensorInfo {
  return runKernel('Transpose', 'wasm', { x: t }, { perm: [0, 2, 1] }, backend);
}

/** Bring a and b to untransposed rank-3 form; temporaries must be disposed by the caller. */
function normalise(
  backend: WasmBackend,
  aIn: TensorInfo,
  bIn: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): Operands {
  const ra = aIn.shape.length,
    rb = bIn.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul: inputs must have rank >= 2, got ${aIn.shape} and ${bIn.shape}`);
  const [a0, a1] = [aIn.shape[ra - 2]!, aIn.shape[ra - 1]!];
  const [b0, b1] = [bIn.shape[rb - 2]!, bIn.shape[rb - 1]!];
  const M = transposeA ? a1 : a0,
    Ka = transposeA ? a0 : a1;
  const Kb = transposeB ? b1 : b0,
    N = transposeB ? b0 : b1;
  if (Ka !== Kb) {
    throw new Error(
      `matMul: inner dimensions ${Ka} and ${Kb} of shapes [${aIn.shape}] and [${bIn.shape}] ` +
        `(transposeA=${transposeA}, transposeB=${transposeB}) must match`,
    );
  }
  const batchShapeA = aIn.shape.slice(0, -2),
    batchShapeB = bIn.shape.slice(0, -2);
  const batchShapeOut = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const batchA = batchShapeA.reduce((p, x) => p * x, 1),
    batchB = batchShapeB.reduce((p, x) => p * x, 1);
  const temporaries: TensorInfo[] = [];
  let a = withShape(aIn, [batchA, a0, a1]);
  let b = withShape(bIn, [batchB, b0, b1]);
  if (transposeA) {
    a = transposeLast2(backend, a);
    temporaries.push(a);
  }
  if (transposeB) {
    b = transposeLast2(backend, b);
    temporaries.push(b);
  }
  return { a, b, temporaries, outShape: [...batchShapeOut, M, N], batchShapeA, batchShapeB, batchShapeOut };
}

/** For each flat index of the broadcast batch shape, the flat index into an operand's batch shape. */
function broadcastIndex(outBatch: number[], operandBatch: number[]): (i: number) => number {
  const rank = outBatch.length,
    shape = [...new Array(rank - operandBatch.length).fill(1), ...operandBatch];
  if (shape.every((d, k) => d === outBatch[k])) return (i) => i;
  return (i) => {
    let rest = i,
      idx = 0,
      stride = 1;
    const coords = new Array<number>(rank);
    for (let k = rank - 1; k >= 0; k--) {
      coords[k] = rest % outBatch[k]!;
      rest = Math.floor(rest / outBatch[k]!);
    }
    for (let k = rank - 1; k >= 0; k--) {
      idx += (shape[k] === 1 ? 0 : coords[k]!) * stride;
      stride *= shape[k]!;
    }
    return idx;
  };
}

function fastBatchMatMul(backend: WasmBackend, o: Operands): TensorInfo {
  const [batchA, M, K] = o.a.shape as [number, number, number];
  const [batchB, , N] = o.b.shape as [number, number, number];
  if (batchB === 1) {
    // shared right-hand side: fold the left batch into rows, one XNNPACK call
    // The right-hand side goes in as a view with a fresh id: XNNPACK caches a packed copy of the weights per id of
    // b until that tensor is disposed, which for weights (variables) is a second copy of the whole model (0.6 GB for
    // ViT-B/32) in the 4 GB wasm32 heap; with the view the packed copy is freed right after the product.
    const out = backend.makeOutput([1, batchA * M, N], 'float32');
    const bv = makeView(backend, o.b, 0, [1, K, N]);
    try {
      xnnMatMul(backend, withShape(o.a, [1, batchA * M, K]), bv, out);
    } finally {
      releaseView(backend, bv);
    }
    return withShape(out, o.outShape);
  }
  const batchOut = o.batchShapeOut.reduce((p, x) => p * x, 1);
  const out = backend.makeOutput([batchOut, M, N], 'float32');
  const ia = broadcastIndex(o.batchShapeOut, o.batchShapeA),
    ib = broadcastIndex(o.batchShapeOut, o.batchShapeB);
  for (let i = 0; i < batchOut; i++) {
    const av = makeView(backend, o.a, ia(i) * M * K, [1, M, K]);
    const bv = makeView(backend, o.b, ib(i) * K * N, [1, K, N]);
    const ov = makeView(backend, out, i * M * N, [1, M, N]);
    try {
      xnnMatMul(backend, av, bv, ov);
    } finally {
      releaseView(backend, av);
      releaseView(backend, bv);
      releaseView(backend, ov);
    }
  }
  return withShape(out, o.outShape);
}

/** The product through the native BLAS, reading the operands where they are in the heap and writing a new tensor. */
function blasBatchMatMul(
  blas: BlasAddon,
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const ra = a.shape.length,
    rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul: inputs must have rank >= 2, got ${a.shape} and ${b.shape}`);
  const M = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!,
    Ka = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const Kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!,
    N = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (Ka !== Kb) {
    throw new Error(
      `matMul: inner dimensions ${Ka} and ${Kb} of shapes [${a.shape}] and [${b.shape}] ` +
        `(transposeA=${transposeA}, transposeB=${transposeB}) must match`,
    );
  }
  const K = Ka;
  const batchShapeA = a.shape.slice(0, -2),
    batchShapeB = b.shape.slice(0, -2);
  const batchShapeOut = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const batchA = batchShapeA.reduce((p, x) => p * x, 1),
    batchB = batchShapeB.reduce((p, x) => p * x, 1),
    batchOut = batchShapeOut.reduce((p, x) => p * x, 1);
  const out = backend.makeOutput([...batchShapeOut, M, N], 'float32');
  if (batchOut === 0 || M === 0 || N === 0) return out;
  // offsets first, then the heap: the allocation above may have grown the memory
  const ao = memoryOffset(backend, a),
    bo = memoryOffset(backend, b),
    co = memoryOffset(backend, out);
  const heap = currentHeap(backend);
  const ta = transposeA ? 1 : 0,
    tb = transposeB ? 1 : 0;
  const itemA = M * K * 4,
    itemB = K * N * 4,
    itemC = M * N * 4;
  const gemm = (m: number, aOff: number, bOff: number, cOff: number, batch: number, sa: number, sb: number) => {
    batchMatMulRouting.blasCalls++;
    blas.gemm(heap, ta, tb, m, N, K, aOff, bOff, cOff, batch, sa, sb, itemC, 0);
  };
  if (batchB === 1 && !transposeA)
    gemm(batchA * M, ao, bo, co, 1, 0, 0); // rows of every left item at once
  else if (batchB === 1) gemm(M, ao, bo, co, batchOut, itemA, 0);
  else if (batchA === 1) gemm(M, ao, bo, co, batchOut, 0, itemB);
  else if (sameBatch(batchShapeA, batchShapeB)) gemm(M, ao, bo, co, batchOut, itemA, itemB);
  else {
    const ia = broadcastIndex(batchShapeOut, batchShapeA),
      ib = broadcastIndex(batchShapeOut, batchShapeB);
    for (let i = 0; i < batchOut; i++) gemm(M, ao + ia(i) * itemA, bo + ib(i) * itemB, co + i * itemC, 1, 0, 0);
  }
  return out;
}

/** Equal batch shapes once the shorter is padded with leading ones. */
function sameBatch(x: number[], y: number[]): boolean {
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const dx = x[x.length - n + i] ?? 1,
      dy = y[y.length - n + i] ?? 1;
    if (dx !== dy) return false;
  }
  return true;
}

function checkFloat32(a: TensorInfo, b: TensorInfo): void {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`BatchMatMul: only float32 is supported on wasm, got ${a.dtype} x ${b.dtype}`);
  }
}

const batchMatMul: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = asWasm(b);
  const { a, b: bIn } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
  checkFloat32(a, bIn);
  const blas = activeBlas();
  if (blas) return blasBatchMatMul(blas, backend, a, bIn, transposeA, transposeB);
  if (isSmallEqualBatch(a, bIn, transposeA)) {
    batchMatMulRouting.stockLoopProducts++;
    return stockBatchMatMul!({ inputs, backend: b, attrs });
  }
  const o = normalise(backend, a, bIn, transposeA, transposeB);
  try {
    return fastBatchMatMul(backend, o);
  } finally {
    for (const t of o.temporaries) backend.disposeData(t.dataId);
  }
};

/**
 * Per-item products below this many multiply-adds (e.g. attention over 17 tokens: 17·17·32) run faster in the stock
 * kernel's single-threaded loop (one call for the whole batch) than as one multi-threaded XNNPACK call per item,
 * whose thread hand-offs dominate — badly so when other processes compete for the cores.
 */
export const SMALL_ITEM_MACS = 32768;

function isSmallEqualBatch(a: TensorInfo, b: TensorInfo, transposeA: boolean): boolean {
  const ra = a.shape.length,
    rb = b.shape.length;
  if (ra < 3 || ra !== rb) return false;
  for (let i = 0; i < ra - 2; i++) if (a.shape[i] !== b.shape[i]) return false;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!,
    k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const n = (b.shape[rb - 2]! * b.shape[rb - 1]!) / k;
  return m * k * n < SMALL_ITEM_MACS;
}

/**
 * _FusedMatMul (matMul + bias + activation, used by tf.fused.matMul and tf.layers.dense): with a shared right-hand
 * side the stock fused kernel is called on the normalised, row-folded operands (its XNNPACK path applies bias and
 * activation); batched x batched products are computed here, then bias and activation with tf ops.
 */
function makeFusedMatMul(stock: KernelFunc): KernelFunc {
  return ({ inputs, backend: b, attrs }) => {
    const backend = asWasm(b);
    const { a, b: bIn, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const blas = activeBlas();
    if (blas) {
      checkFloat32(a!, bIn!);
      const product = blasBatchMatMul(blas, backend, a!, bIn!, transposeA, transposeB);
      return blasFusedMatMul(blas, backend, product, attrs ?? {}, { bias, prelu: preluActivationWeights });
    }
    const o = normalise(backend, a!, bIn!, transposeA, transposeB);
    try {
      const [batchA, M, K] = o.a.shape as [number, number, number];
      if (o.b.shape[0] === 1) {
        const fusedInputs: Record<string, TensorInfo> = { a: withShape(o.a, [1, batchA * M, K]), b: o.b };
        if (bias) fusedInputs.bias = bias;
        if (preluActivationWeights) fusedInputs.preluActivationWeights = preluActivationWeights;
        const out = stock({
          inputs: fusedInputs,
          backend: b,
          attrs: { ...attrs, transposeA: false, transposeB: false } as NamedAttrMap,
        });
        return withShape(out as TensorInfo, o.outShape);
      }
      const product = fastBatchMatMul(backend, o);
      const { activation, leakyreluAlpha } = attrs as { activation: string; leakyreluAlpha?: number };
      if (!bias && activation === 'linear') return product;
      // batched x batched with bias/activation (the stock slow path indexes the bias wrongly): finish with ops
      const extra = [bias, preluActivationWeights].filter((t): t is TensorInfo => t !== undefined);
      try {
        return kernelFromOps(backend, [product, ...extra], (y, ...rest) => {
          const z = bias ? tf.add(y, rest[0]!) : y;
          const prelu = preluActivationWeights ? rest[rest.length - 1]! : undefined;
          return applyActivation(z, activation, leakyreluAlpha ?? 0.2, prelu);
        });
      } finally {
        backend.disposeData(product.dataId);
      }
    } finally {
      for (const t of o.temporaries) backend.disposeData(t.dataId);
    }
  };
}

const EPILOGUE_ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  sigmoid: 4,
  leakyrelu: 5,
  prelu: 6,
};

/** Length of a per-column vector (1 or n, all other dims 1), or -1 when t broadcasts otherwise. */
function columnVectorLength(t: TensorInfo, n: number): number {
  const size = t.shape.reduce((p, x) => p * x, 1);
  const last = t.shape[t.shape.length - 1] ?? 1;
  return (size === 1 || size === n) && size === last ? size : -1;
}

/** Bias and activation on a fresh native product, in place when they are per-column, else with tf ops. */
function blasFusedMatMul(
  blas: BlasAddon,
  backend: WasmBackend,
  product: TensorInfo,
  attrs: NamedAttrMap,
  extra: { bias?: TensorInfo; prelu?: TensorInfo },
): TensorInfo {
  const { activation, leakyreluAlpha } = attrs as unknown as { activation: string; leakyreluAlpha?: number };
  const { bias, prelu } = extra;
  if (!bias && activation === 'linear') return product;
  const n = product.shape[product.shape.length - 1]!;
  const size = product.shape.reduce((p, x) => p * x, 1);
  const code = EPILOGUE_ACTIVATIONS[activation];
  const biasLen = bias ? columnVectorLength(bias, n) : 0;
  const preluLen = prelu ? columnVectorLength(prelu, n) : 0;
  if (size === 0) return product;
  const float32 = (bias?.dtype ?? 'float32') === 'float32' && (prelu?.dtype ?? 'float32') === 'float32';
  if (code !== undefined && float32 && biasLen >= 0 && (activation !== 'prelu' || preluLen > 0)) {
    blas.epilogue(
      currentHeap(backend),
      memoryOffset(backend, product),
      size / n,
      n,
      bias ? memoryOffset(backend, bias) : 0,
      biasLen,
      code,
      leakyreluAlpha ?? 0.2,
      prelu ? memoryOffset(backend, prelu) : 0,
      activation === 'prelu' ? preluLen : 0,
    );
    return product;
  }
  const inputs = [bias, prelu].filter((t): t is TensorInfo => t !== undefined);
  try {
    return kernelFromOps(backend, [product, ...inputs], (y, ...rest) => {
      const z = bias ? tf.add(y, rest[0]!) : y;
      return applyActivation(z, activation, leakyreluAlpha ?? 0.2, prelu ? rest[rest.length - 1]! : undefined);
    });
  } finally {
    backend.disposeData(product.dataId);
  }
}

function applyActivation(x: tf.Tensor, activation: string, alpha: number, prelu?: tf.Tensor): tf.Tensor {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'elu':
      return tf.elu(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'leakyrelu':
      return tf.leakyRelu(x, alpha);
    case 'prelu':
      return tf.prelu(x, prelu!);
    default:
      throw new Error(`_FusedMatMul: unsupported activation '${activation}'`);
  }
}

export function batchMatMulKernels(): KernelConfig[] {
  const stockBmm = tf.getKernel('BatchMatMul', 'wasm');
  const stockFused = tf.getKernel('_FusedMatMul', 'wasm');
  if (!stockBmm || !stockFused)
    throw new Error('wasm BatchMatMul/_FusedMatMul kernels not found: is @tensorflow/tfjs-backend-wasm imported?');
  const stockFusedFunc = stockFused.kernelFunc;
  stockBatchMatMul = stockBmm.kernelFunc;
  return [
    {
      kernelName: 'BatchMatMul',
      backendName: 'wasm',
      setupFunc: (backend) => {
        // (register.ts runs the stock kernel's setup first)
        xnnBatchMatMul = asWasm(backend).wasm.cwrap('BatchMatMul', null, [
          'number',
          'array',
          'number',
          'number',
          'array',
          'number',
          'number',
          'number',
          'number',
        ]) as WasmBatchMatMul;
      },
      kernelFunc: batchMatMul,
    },
    { kernelName: '_FusedMatMul', backendName: 'wasm', kernelFunc: makeFusedMatMul(stockFusedFunc) },
  ];
}
