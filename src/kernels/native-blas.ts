// The optional native BLAS addon (native/blas/, built at install where OpenBLAS or Accelerate is found): single-precision
// matrix products run by a native sgemm directly on the wasm backend's heap. The heap is one buffer; tensors are byte
// offsets into it, so nothing is copied. The wasm memory can grow (a new buffer), so every call takes the current one.
//
// enableNativeBlas(threads) loads it once per process (never throwing) and says in one line which matmul path is active
// and why. CLIP_BENCH_BLAS=off (or 0/false/no) keeps the XNNPACK kernels. The addon runs on the calling thread while the
// wasm worker threads are idle, and uses the same thread count as the wasm backend (CLIP_BENCH_THREADS).
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface BlasAddon {
  /**
   * For i < batch: C_i = op(A_i) op(B_i) (+ C_i when accumulate), row-major and dense (A_i [m,k], or [k,m] when
   * transposed; B_i [k,n] or [n,k]; C_i [m,n]). Offsets and strides in bytes; stride 0 repeats an operand.
   */
  gemm(
    heap: Uint8Array,
    transA: number,
    transB: number,
    m: number,
    n: number,
    k: number,
    aOff: number,
    bOff: number,
    cOff: number,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
    accumulate: number,
  ): void;
  /** In place on a [rows, n] block: c = act(c + bias); biasLen 0 (none), 1 or n; prelu weights 1 or n. */
  epilogue(
    heap: Uint8Array,
    cOff: number,
    rows: number,
    n: number,
    biasOff: number,
    biasLen: number,
    activation: number,
    alpha: number,
    preluOff: number,
    preluLen: number,
  ): void;
  /** Layer norm over the last axis of a [rows, d] block (see src/kernels/layer-norm.ts for the arithmetic). */
  layerNorm(
    heap: Uint8Array,
    xOff: number,
    gammaOff: number,
    betaOff: number,
    rows: number,
    d: number,
    eps: number,
    yOff: number,
    meanOff: number,
    rstdOff: number,
  ): void;
  layerNormGrad(
    heap: Uint8Array,
    dyOff: number,
    xOff: number,
    meanOff: number,
    rstdOff: number,
    gammaOff: number,
    rows: number,
    d: number,
    dxOff: number,
    dgammaOff: number,
    dbetaOff: number,
  ): void;
  /** y = x * sigmoid(1.702 x) over n floats; the gradient dx = dy * (s + 1.702 x s (1 - s)). */
  quickGelu(heap: Uint8Array, xOff: number, yOff: number, n: number): void;
  quickGeluGrad(heap: Uint8Array, dyOff: number, xOff: number, dxOff: number, n: number): void;
  /**
   * One AdamW update in place on w, m and v (Float32Arrays of one length, anywhere in memory), float32 arithmetic in
   * the order of src/train/adamw.ts (bit-identical to its JavaScript loop). decay = 1 - lr·wd (or 1), then beta1,
   * 1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2^t), eps, lr / (1 - beta1^t), each already rounded to float32.
   */
  adamw(
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    decay: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    sqrtBiasCorrection2: number,
    eps: number,
    stepSize: number,
  ): void;
  /**
   * 2-D convolution (NHWC input, HWIO filter) as patch matrices and sgemm. mode 0: y = conv(x, w) (a = x, b = w);
   * 1: dW (a = x, b = dy); 2: dx (a = dy, b = w).
   */
  conv2d(
    heap: Uint8Array,
    mode: number,
    aOff: number,
    bOff: number,
    outOff: number,
    ...shape: number[] // n, h, w, ci, kh, kw, co, oh, ow, sh, sw, dh, dw, top, left
  ): void;
  /** out[c] = sum over rows of x[r, c] for a row-major [rows, cols] block (row order, float accumulation). */
  columnSum(heap: Uint8Array, xOff: number, rows: number, cols: number, outOff: number): void;
  /**
   * Multi-head self-attention on the packed projection qkv [b, t, 3·heads·d]: out [b, t, heads·d] and the attention
   * probabilities [b, heads, t, t]; maskOff < 0 for no mask, else an additive [t, t] mask.
   */
  attention(
    heap: Uint8Array,
    qkvOff: number,
    maskOff: number,
    outOff: number,
    probsOff: number,
    b: number,
    t: number,
    heads: number,
    d: number,
    scale: number,
  ): void;
  /** The gradient with respect to qkv, from dOut, qkv and the saved probabilities. */
  attentionGrad(
    heap: Uint8Array,
    doutOff: number,
    qkvOff: number,
    probsOff: number,
    dqkvOff: number,
    b: number,
    t: number,
    heads: number,
    d: number,
    scale: number,
  ): void;
  setThreads(n: number): void;
  info(): { name: string; config: string; threads: number; blasThreads: number; core: string };
}

export interface NativeBlasStatus {
  /** true when BatchMatMul and _FusedMatMul on wasm run through the addon. */
  active: boolean;
  /** one line: which matmul path and why. */
  reason: string;
}

export const ADDON_PATH = new URL('../../native/blas/build/blas.node', import.meta.url).pathname;

let addon: BlasAddon | null = null;
let loadError: string | null = null;
let enabled = false;
let threadCount = 1;
let status: NativeBlasStatus = { active: false, reason: 'matmul: XNNPACK (native BLAS not initialised)' };

function disabledByEnv(): boolean {
  const v = (process.env.CLIP_BENCH_BLAS ?? '').trim().toLowerCase();
  return v === 'off' || v === '0' || v === 'false' || v === 'no';
}

function load(): BlasAddon | string {
  if (addon) return addon;
  if (loadError) return loadError;
  if (!existsSync(ADDON_PATH)) {
    loadError = `native BLAS addon not built (${process.platform}: needs OpenBLAS or Accelerate; sh native/blas/build.sh)`;
    return loadError;
  }
  try {
    // BLAS worker threads sleep soon after a product instead of spinning (they would compete with the wasm workers);
    // read by OpenBLAS when it loads, so only set when the user has not chosen
    process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
    addon = createRequire(import.meta.url)(ADDON_PATH) as BlasAddon;
    return addon;
  } catch (e) {
    loadError = `native BLAS addon failed to load (${String((e as Error).message ?? e)
      .split('\n')[0]!
      .slice(0, 160)})`;
    return loadError;
  }
}

/**
 * Turn the native path on for the wasm backend when the addon is available and not disabled; returns (and keeps) the
 * status line. `threads`: the BLAS thread count (the wasm backend's).
 */
export function enableNativeBlas(threads: number): NativeBlasStatus {
  threadCount = threads;
  if (disabledByEnv()) {
    enabled = false;
    status = { active: false, reason: 'matmul: XNNPACK (native BLAS disabled by CLIP_BENCH_BLAS)' };
    return status;
  }
  const r = load();
  if (typeof r === 'string') {
    enabled = false;
    status = { active: false, reason: `matmul: XNNPACK (${r})` };
    return status;
  }
  r.setThreads(threads);
  const i = r.info();
  enabled = true;
  const what = i.name === 'OpenBLAS' ? `${i.config.trim().split(' ').slice(0, 2).join(' ')} (${i.core})` : i.name;
  status = { active: true, reason: `matmul: ${what}, ${i.threads} thread(s), in place on the wasm heap` };
  return status;
}

/** The addon when the native path is on, else null (the kernels then use XNNPACK). */
export function activeBlas(): BlasAddon | null {
  return enabled ? addon : null;
}

/** Whether ops on the active tfjs backend run through the addon (the wasm backend with the native path on). */
export function nativeOpsActive(): boolean {
  return enabled && tf.getBackend() === 'wasm';
}

export function nativeBlasStatus(): NativeBlasStatus {
  return status;
}

/**
 * Switch the native path on (loading the addon if needed, whatever CLIP_BENCH_BLAS says) or off at run time; returns
 * whether it is now on. For tests and benchmarks that compare both paths in one process.
 */
export function setNativeBlas(on: boolean): boolean {
  if (!on) {
    enabled = false;
    return false;
  }
  const r = load();
  if (typeof r === 'string') return (enabled = false);
  r.setThreads(threadCount);
  enabled = true;
  return true;
}
