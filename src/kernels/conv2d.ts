// Conv2D and Conv2DBackpropInput for the wasm backend through the native BLAS addon (patch matrices and sgemm, on the
// heap; see native/blas): with the native path on and NHWC data they run there, otherwise the stock XNNPACK kernels
// run unchanged. The filter gradient (Conv2DBackpropFilter) lives in conv2d-backprop-filter.ts and uses the same call.
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { BlasAddon } from './native-blas.ts';
import { activeBlas } from './native-blas.ts';
import { asWasm, currentHeap, memoryOffset } from './wasm-heap.ts';
import type { WasmBackend } from './wasm-heap.ts';

export const CONV_FORWARD = 0,
  CONV_FILTER_GRAD = 1,
  CONV_INPUT_GRAD = 2;

/** How convolutions were routed (for tests): native calls by mode. */
export const convRouting = { forward: 0, filterGrad: 0, inputGrad: 0 };

/**
 * One native convolution call. `info` describes the forward convolution (NHWC, HWIO); `a`, `b` are (x, filter) for
 * the forward pass, (x, dy) for the filter gradient, (dy, filter) for the input gradient; the result is a new tensor.
 */
export function nativeConv2d(
  blas: BlasAddon,
  backend: WasmBackend,
  mode: number,
  info: tf.backend_util.Conv2DInfo,
  a: TensorInfo,
  b: TensorInfo,
): TensorInfo {
  if (a.dtype !== 'float32' || b.dtype !== 'float32')
    throw new Error(`conv2d: only float32 is supported on wasm, got ${a.dtype} and ${b.dtype}`);
  const outShape =
    mode === CONV_FORWARD
      ? info.outShape
      : mode === CONV_FILTER_GRAD
        ? [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels]
        : info.inShape;
  const out = backend.makeOutput(outShape.slice(), 'float32');
  const ao = memoryOffset(backend, a),
    bo = memoryOffset(backend, b),
    oo = memoryOffset(backend, out);
  if (mode === CONV_FORWARD) convRouting.forward++;
  else if (mode === CONV_FILTER_GRAD) convRouting.filterGrad++;
  else convRouting.inputGrad++;
  blas.conv2d(
    currentHeap(backend),
    mode,
    ao,
    bo,
    oo,
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  );
  return out;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | number[][];
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape?: [number, number, number, number];
}

function convInfo(xShape: number[], filterShape: number[], a: ConvAttrs, dilations: number | [number, number]) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    dilations,
    a.pad as never,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
}

function conv2dKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const blas = activeBlas();
    const a = args.attrs as unknown as ConvAttrs;
    if (!blas || a.dataFormat === 'NCHW') return stock(args);
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const info = convInfo(x.shape, filter.shape, a, a.dilations ?? 1);
    return nativeConv2d(blas, asWasm(args.backend), CONV_FORWARD, info, x, filter);
  };
}

function conv2dBackpropInputKernel(stock: KernelFunc): KernelFunc {
  return (args) => {
    const blas = activeBlas();
    const a = args.attrs as unknown as ConvAttrs;
    if (!blas || a.dataFormat === 'NCHW') return stock(args);
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const info = convInfo(a.inputShape!, filter.shape, a, 1);
    if (dy.shape.some((d, i) => d !== info.outShape[i]))
      throw new Error(`Conv2DBackpropInput: dy shape [${dy.shape}] does not match the output [${info.outShape}]`);
    return nativeConv2d(blas, asWasm(args.backend), CONV_INPUT_GRAD, info, dy, filter);
  };
}

export function conv2dKernels(): KernelConfig[] {
  const stockConv = tf.getKernel('Conv2D', 'wasm');
  const stockInput = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (!stockConv || !stockInput)
    throw new Error('wasm Conv2D/Conv2DBackpropInput kernels not found: is @tensorflow/tfjs-backend-wasm imported?');
  return [
    { kernelName: 'Conv2D', backendName: 'wasm', kernelFunc: conv2dKernel(stockConv.kernelFunc) },
    {
      kernelName: 'Conv2DBackpropInput',
      backendName: 'wasm',
      kernelFunc: conv2dBackpropInputKernel(stockInput.kernelFunc),
    },
  ];
}
