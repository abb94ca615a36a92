// Conv2DBackpropFilter (the conv2d weight gradient) for the wasm backend, which has none. Built from tf ops that run
// on wasm's fast paths (NOT via the wasm Conv3DBackpropFilterV2 with depth 1: that kernel is wrong for stride > 1):
//   non-overlapping patches (stride == kernel, no padding): one patchify (4-D transpose) + one matMul;
//   otherwise: one strided slice + one matMul per filter tap.
// dW[i,j,ci,co] = sum over n,oh,ow of x[n, oh*sh + i - top, ow*sw + j - left, ci] * dy[n,oh,ow,co]   (NHWC, HWIO)
// With the native BLAS addon on (NHWC), one native call: patch matrices of x times dy (see conv2d.ts).
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { activeBlas } from './native-blas.ts';
import { CONV_FILTER_GRAD, nativeConv2d } from './conv2d.ts';
import { asWasm, kernelFromOps } from './wasm-heap.ts';

interface Attrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, a: Attrs): tf.Tensor4D {
  if (a.dataFormat === 'NCHW') {
    return conv2dFilterGradient(tf.transpose(x, [0, 2, 3, 1]), tf.transpose(dy, [0, 2, 3, 1]), {
      ...a,
      dataFormat: 'NHWC',
    });
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    a.filterShape,
    a.strides,
    1,
    a.pad as never,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [kh, kw, cin, cout] = a.filterShape;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, bottom, left, right } = info.padInfo;
  const [n] = x.shape;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== cout) {
    throw new Error(
      `Conv2DBackpropFilter: dy shape [${dy.shape}] does not match the output [${n},${oh},${ow},${cout}]`,
    );
  }
  const dy2 = tf.reshape(dy, [n * oh * ow, cout]);
  if (sh === kh && sw === kw && top === 0 && left === 0 && bottom <= 0 && right <= 0) {
    // patchify: [N, OH*kh, OW*kw, Cin] -> [N*OH, kh, OW, kw*Cin] -> [N*OH, OW, kh, kw*Cin] = rows of (i, j, ci)
    const xc = tf.slice(x, [0, 0, 0, 0], [n, oh * kh, ow * kw, cin]);
    const patches = tf.transpose(tf.reshape(xc, [n * oh, kh, ow, kw * cin]), [0, 2, 1, 3]);
    const dw = tf.matMul(tf.reshape(patches, [n * oh * ow, kh * kw * cin]), dy2, true, false);
    return tf.reshape(dw, [kh, kw, cin, cout]);
  }
  const xp =
    top || bottom || left || right
      ? tf.pad(x, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ])
      : x;
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const xs = tf.stridedSlice(
        xp,
        [0, i, j, 0],
        [n, i + sh * (oh - 1) + 1, j + sw * (ow - 1) + 1, cin],
        [1, sh, sw, 1],
      );
      taps.push(tf.matMul(tf.reshape(xs, [n * oh * ow, cin]), dy2, true, false)); // [Cin, Cout]
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, cin, cout]);
}

const kernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as Attrs;
  const blas = activeBlas();
  if (blas && a.dataFormat !== 'NCHW') {
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      a.filterShape,
      a.strides,
      1,
      a.pad as never,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
    if (dy.shape.some((d, i) => d !== info.outShape[i]))
      throw new Error(`Conv2DBackpropFilter: dy shape [${dy.shape}] does not match the output [${info.outShape}]`);
    return nativeConv2d(blas, asWasm(backend), CONV_FILTER_GRAD, info, x, dy);
  }
  return kernelFromOps(backend as never, [x, dy], (xt, dyt) =>
    conv2dFilterGradient(xt as tf.Tensor4D, dyt as tf.Tensor4D, a),
  );
};

export function conv2dBackpropFilterKernels(): KernelConfig[] {
  return [{ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: kernel }];
}
