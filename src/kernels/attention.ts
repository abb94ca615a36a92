// Multi-head self-attention as one kernel forward and one backward on wasm, through the native BLAS addon. The op
// composition (split q|k|v, three head transposes, scaled scores, mask, softmax, weighted sum, the transpose back) is
// about ten kernels forward and twenty backward, several of them full copies; here each (batch, head) item reads its
// q, k and v straight from the packed projection with strided BLAS calls and writes its slice of the output.
//   forward   P = softmax(Q K^T / sqrt(D) + mask), out = P V            (P kept for the backward pass)
//   backward  dV = P^T dO, dS = P (dO V^T - rowsum(P dO V^T)), dQ = dS K / sqrt(D), dK = dS^T Q / sqrt(D)
// fusedSelfAttention() is used by multiHeadAttention only while the native path is on (src/nn/attention.ts).
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { activeBlas, nativeOpsActive } from './native-blas.ts';
import type { BlasAddon } from './native-blas.ts';
import { asWasm, currentHeap, memoryOffset } from './wasm-heap.ts';

export const ATTENTION = 'ClipBenchAttention';
export const ATTENTION_GRAD = 'ClipBenchAttentionGrad';

function requireBlas(): BlasAddon {
  const blas = activeBlas();
  if (!blas) throw new Error('fused attention: needs the native BLAS addon (the op composition runs without it)');
  return blas;
}

function dims(qkv: TensorInfo, heads: number): { b: number; t: number; d: number } {
  if (qkv.dtype !== 'float32' || qkv.shape.length !== 3 || qkv.shape[2]! % (3 * heads) !== 0)
    throw new Error(
      `fused attention: qkv must be float32 [B, T, 3·W] with W divisible by ${heads}, got [${qkv.shape}]`,
    );
  return { b: qkv.shape[0]!, t: qkv.shape[1]!, d: qkv.shape[2]! / (3 * heads) };
}

const forward: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = asWasm(be);
  const { qkv, mask } = inputs as { qkv: TensorInfo; mask?: TensorInfo };
  const { heads } = attrs as unknown as { heads: number };
  const { b, t, d } = dims(qkv, heads);
  if (mask && (mask.dtype !== 'float32' || mask.shape.length !== 2 || mask.shape[0] !== t || mask.shape[1] !== t))
    throw new Error(`fused attention: mask must be float32 [${t}, ${t}], got [${mask.shape}]`);
  const blas = requireBlas();
  const out = backend.makeOutput([b, t, heads * d], 'float32');
  const probs = backend.makeOutput([b, heads, t, t], 'float32');
  const o = (x: TensorInfo) => memoryOffset(backend, x);
  blas.attention(currentHeap(backend), o(qkv), mask ? o(mask) : -1, o(out), o(probs), b, t, heads, d, 1 / Math.sqrt(d));
  return [out, probs];
};

const backward: KernelFunc = ({ inputs, backend: be, attrs }) => {
  const backend = asWasm(be);
  const { dy, qkv, probs } = inputs as { dy: TensorInfo; qkv: TensorInfo; probs: TensorInfo };
  const { heads } = attrs as unknown as { heads: number };
  const { b, t, d } = dims(qkv, heads);
  const blas = requireBlas();
  const dqkv = backend.makeOutput(qkv.shape.slice(), 'float32');
  const o = (x: TensorInfo) => memoryOffset(backend, x);
  blas.attentionGrad(currentHeap(backend), o(dy), o(qkv), o(probs), o(dqkv), b, t, heads, d, 1 / Math.sqrt(d));
  return dqkv;
};

export function attentionKernels(): KernelConfig[] {
  return [
    { kernelName: ATTENTION, backendName: 'wasm', kernelFunc: forward },
    { kernelName: ATTENTION_GRAD, backendName: 'wasm', kernelFunc: backward },
  ];
}

export function attentionGradient(): GradConfig {
  return {
    kernelName: ATTENTION,
    inputsToSave: ['qkv'],
    outputsToSave: [false, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [qkv, probs] = saved as [tf.Tensor, tf.Tensor];
      return {
        qkv: () => tf.engine().runKernel(ATTENTION_GRAD, { dy, qkv, probs }, attrs) as tf.Tensor,
        mask: () => tf.zeros([qkv.shape[1]!, qkv.shape[1]!]), // the mask is a constant
      };
    },
  };
}

/** Whether fusedSelfAttention can run here: wasm with the native path on, and no mask or a [T, T] one. */
export function hasFusedAttention(qkv: tf.Tensor, mask?: tf.Tensor): boolean {
  if (!nativeOpsActive() || qkv.rank !== 3) return false;
  const t = qkv.shape[1]!;
  return !mask || (mask.rank === 2 && mask.shape[0] === t && mask.shape[1] === t && mask.dtype === 'float32');
}

/** softmax(Q K^T / sqrt(D) + mask) V per head, from the packed projection qkv [B, T, 3W]; returns [B, T, W]. */
export function fusedSelfAttention(qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor): tf.Tensor3D {
  const inputs: Record<string, tf.Tensor> = { qkv };
  if (mask) inputs.mask = mask;
  const [out, probs] = tf.engine().runKernel(ATTENTION, inputs, { heads }) as tf.Tensor[];
  probs!.dispose(); // the gradient keeps its own reference
  return out as tf.Tensor3D;
}
