// Identity and same-dtype Cast for the wasm backend without a copy. While a gradient tape is recording, the tfjs engine
// clones (Identity) every tensor a gradient function saves, and the stock wasm Identity/Cast copy the whole buffer:
// hundreds of full-size copies per training step. tfjs tensors are immutable (Variable.assign swaps the data id), so
// sharing the data with a reference count — what the cpu backend's Identity and every backend's Reshape do — is safe.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { asWasm } from './wasm-heap.ts';

function share(backendArg: unknown, x: TensorInfo): TensorInfo {
  asWasm(backendArg).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

export function identityKernels(stockCast: KernelFunc): KernelConfig[] {
  const identity: KernelFunc = ({ inputs, backend }) => share(backend, (inputs as { x: TensorInfo }).x);
  const cast: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    return (args.attrs as { dtype: string }).dtype === x.dtype ? share(args.backend, x) : stockCast(args);
  };
  return [
    { kernelName: 'Identity', backendName: 'wasm', kernelFunc: identity },
    { kernelName: 'Cast', backendName: 'wasm', kernelFunc: cast },
  ];
}
