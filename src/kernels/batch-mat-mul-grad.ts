// Gradient of BatchMatMul that handles broadcast batch dimensions. The stock tfjs 4.22 gradient returns a gradient of
// the broadcast shape (e.g. [B,K,N] for a shared [K,N] weight), which the tape rejects: "The gradient of input 'b' has
// shape ..." — so tf.matMul([B,T,K], [K,N]) could not be trained. Here gradients are summed back to the input shape,
// and a shared right-hand side ([..., M, K] x [K, N]) folds the batch into rows: dB is then one [K, B·M] x [B·M, N]
// product instead of B products and a sum.
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs';

/** Sum g over the axes along which an input of `shape` was broadcast. */
function sumToShape(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return tf.reshape(axes.length ? tf.sum(g, axes) : g, shape);
}

export function batchMatMulGradient(): GradConfig {
  return {
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
      const g = dy as tf.Tensor;
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const { transposeA: ta, transposeB: tb } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (b.rank === 2 && a.rank > 2 && !ta) {
        const k = a.shape[a.rank - 1]!,
          n = g.shape[g.rank - 1]!;
        const a2 = () => tf.reshape(a, [-1, k]),
          g2 = () => tf.reshape(g, [-1, n]);
        return {
          a: () => tf.matMul(g, b, false, !tb),
          b: () => (tb ? tf.matMul(g2(), a2(), true, false) : tf.matMul(a2(), g2(), true, false)),
        };
      }
      let da: () => tf.Tensor, db: () => tf.Tensor;
      if (!ta && !tb) {
        da = () => tf.matMul(g, b, false, true);
        db = () => tf.matMul(a, g, true, false);
      } else if (!ta && tb) {
        da = () => tf.matMul(g, b, false, false);
        db = () => tf.matMul(g, a, true, false);
      } else if (ta && !tb) {
        da = () => tf.matMul(b, g, false, true);
        db = () => tf.matMul(a, g, false, false);
      } else {
        da = () => tf.matMul(b, g, true, true);
        db = () => tf.matMul(g, a, true, true);
      }
      return { a: () => sumToShape(da(), a.shape), b: () => sumToShape(db(), b.shape) };
    },
  };
}
