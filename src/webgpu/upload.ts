// Upload tensors made from host arrays to the device now, rather than when a kernel first reads them. tfjs's webgpu
// backend keeps a new tensor's values on the host and uploads them on first use, inside the step that uses them; the
// training stage calls this for the next batch while the device still works on the current step, so the copy into
// the upload buffer happens then and the next step starts on data that is already in flight. Only float32 tensors are
// uploaded: int32 ones (token ids, MLM labels) are also read on the host during the step (src/host-values.ts), and
// tfjs drops the host copy of what it uploads. Elsewhere (wasm, cpu: host memory; tfjs-node) it does nothing.
import * as tf from '@tensorflow/tfjs';

interface WebgpuUploader {
  uploadToGPU(dataId: object): void;
}

/** Upload the float32 tensors among `tensors` on the webgpu backend; returns how many were uploaded. */
export function uploadToDevice(tensors: readonly tf.Tensor[]): number {
  if (tf.getBackend() !== 'webgpu') return 0;
  const backend = tf.backend() as unknown as WebgpuUploader;
  let n = 0;
  for (const t of tensors)
    if (t.dtype === 'float32' && !t.isDisposed) {
      backend.uploadToGPU(t.dataId);
      n++;
    }
  return n;
}
