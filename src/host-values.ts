// Tensor values on the host without a synchronous device read.
//
// The training step never calls dataSync/arraySync (a GPU backend cannot answer synchronously: tfjs-backend-webgpu's
// readSync throws in Node, and any blocking read stalls the device). What the step needs on the host is either
//   - memory the backend already keeps on the host: the wasm heap and the cpu backend's arrays are host memory, so
//     hostView() returns the tensor's own storage (no copy, nothing to wait for), or
//   - input data the host produced itself (token ids, MLM labels): their values are remembered when the batch is made
//     or prefetched (prefetchHostValues, which on a GPU returns the values still waiting for upload), and
//     hostValues() returns them.
import * as tf from '@tensorflow/tfjs';
import type { TypedArray } from '@tensorflow/tfjs';

type Storage = Float32Array | Int32Array | Uint8Array;

interface WasmLike {
  typedArrayFromHeap(t: { dataId: object; shape: number[]; dtype: string }): Storage;
}
interface CpuLike {
  data: { get(dataId: object): { values?: TypedArray } | undefined };
}
interface WebgpuLike {
  tensorMap: { get(dataId: object): { values?: TypedArray | null } | undefined };
}

/** Backends whose tensors live in host memory (no device to synchronise with). */
export function isHostMemoryBackend(name = tf.getBackend()): boolean {
  return name === 'wasm' || name === 'cpu';
}

/**
 * The tensor's own storage on a host-memory backend (wasm heap view or the cpu backend's array): read it right away,
 * do not keep it (a growing wasm heap detaches old views), never write to it. Throws on device backends.
 */
export function hostView(t: tf.Tensor): Storage {
  const name = tf.getBackend();
  const backend = tf.backend() as unknown;
  if (name === 'wasm') return (backend as WasmLike).typedArrayFromHeap(t);
  if (name === 'cpu') {
    const values = (backend as CpuLike).data.get(t.dataId)?.values;
    if (!values) throw new Error('hostView: tensor has no values on the cpu backend');
    return values as Storage;
  }
  throw new Error(`hostView: the ${name} backend keeps tensors on a device; read them with await tensor.data()`);
}

const remembered = new WeakMap<object, Storage>();

/** Record `values` as the host copy of `t` (the caller made t from them). */
export function rememberHostValues(t: tf.Tensor, values: Storage): void {
  remembered.set(t.dataId, values);
}

/**
 * Host values of an input tensor: its remembered copy, its storage on a host-memory backend, or values a GPU backend
 * still holds on the host (not yet uploaded). Throws, naming what to do, when they would need a device read.
 */
export function hostValues(t: tf.Tensor): Storage {
  const known = remembered.get(t.dataId);
  if (known) return known;
  if (isHostMemoryBackend()) return hostView(t);
  if (tf.getBackend() === 'webgpu') {
    const values = (tf.backend() as unknown as WebgpuLike).tensorMap.get(t.dataId)?.values;
    if (values) return values as Storage;
  }
  throw new Error(
    `hostValues: tensor [${t.shape}] ${t.dtype} has no host copy on the ${tf.getBackend()} backend (prefetchHostValues it before the step)`,
  );
}

/**
 * Make hostValues() answer for these tensors: on a host-memory backend nothing to do; on a device backend their values
 * are read once (for tensors made from host arrays and not yet used on the device this waits for nothing).
 */
export async function prefetchHostValues(tensors: tf.Tensor[]): Promise<void> {
  if (isHostMemoryBackend()) return;
  await Promise.all(
    tensors.map(async (t) => {
      if (!remembered.has(t.dataId)) remembered.set(t.dataId, (await t.data()) as Storage);
    }),
  );
}

/**
 * After this, dataSync() on these tensors answers from host memory on every backend (webgpu keeps the values an
 * asynchronous read brought back): for code outside the training step that still reads synchronously (checkpoint
 * writers). Until a tensor changes, no device read happens again.
 */
export async function cacheOnHost(tensors: tf.Tensor[]): Promise<void> {
  if (isHostMemoryBackend()) return;
  await Promise.all(tensors.map((t) => t.data()));
}
