// A second handle on a tensor's data with no link to how it was computed (torch's .detach()): ops on it are not on the
// gradient path from the parameters, so indices chosen from it (top-k, arg-max) can feed a gather without a gradient
// of their own, and nothing needs to be read back to the host to cut the path. Same storage, no copy.
import * as tf from '@tensorflow/tfjs';

export function detach<T extends tf.Tensor>(t: T): T {
  const engine = tf.engine();
  const backend = engine.backend as unknown as { incRef(dataId: object): void };
  backend.incRef(t.dataId);
  return engine.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as T;
}
