// Registers the project's kernels for the wasm and cpu backends (the README's kernel table says why each exists).
// Called by initBackend before a backend is set; idempotent. The stock kernels are captured on the first call
// (replacements delegate to them, and benchmarks compare against them).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { GradConfig, KernelConfig } from '@tensorflow/tfjs';
import { batchMatMulKernels } from './batch-mat-mul.ts';
import { batchMatMulGradient } from './batch-mat-mul-grad.ts';
import { conv2dBackpropFilterKernels } from './conv2d-backprop-filter.ts';
import { conv2dKernels } from './conv2d.ts';
import { quickGeluGradient, quickGeluKernels } from './quick-gelu.ts';
import { attentionGradient, attentionKernels } from './attention.ts';
import { sumKernels } from './sum.ts';
import { identityKernels } from './identity.ts';
import { layerNormGradient, layerNormKernels } from './layer-norm.ts';
import { oneHotKernels } from './one-hot.ts';
import { sliceKernels } from './slice.ts';
import { concatKernels } from './concat.ts';
import { gatherKernels } from './gather.ts';
import { unsortedSegmentSumKernels } from './unsorted-segment-sum.ts';

let configs: KernelConfig[] | null = null;
const stock = new Map<string, KernelConfig | undefined>();

/** The project's kernel configs (built once). */
export function projectKernels(): KernelConfig[] {
  if (configs) return configs;
  const built = [
    ...batchMatMulKernels(),
    ...conv2dBackpropFilterKernels(),
    ...conv2dKernels(),
    ...quickGeluKernels(),
    ...attentionKernels(),
    ...sumKernels(),
    ...unsortedSegmentSumKernels(),
    ...oneHotKernels(),
    ...identityKernels(requireKernel('Cast', 'wasm').kernelFunc),
    ...layerNormKernels(),
    ...sliceKernels(requireKernel('Slice', 'wasm').kernelFunc, requireKernel('SplitV', 'wasm').kernelFunc),
    ...concatKernels(requireKernel('Concat', 'wasm').kernelFunc),
    ...gatherKernels(requireKernel('GatherV2', 'wasm').kernelFunc),
  ];
  configs = built.map((c) => {
    const original = tf.getKernel(c.kernelName, c.backendName);
    stock.set(`${c.kernelName}/${c.backendName}`, original);
    // replacements delegate to the stock kernel in some cases: its setup (cwrap of the C++ function) must still run
    const stockSetup = original?.setupFunc,
      ownSetup = c.setupFunc;
    if (!stockSetup || ownSetup === stockSetup) return c;
    return {
      ...c,
      setupFunc: (backend) => {
        stockSetup(backend);
        ownSetup?.(backend);
      },
    };
  });
  return configs;
}

function requireKernel(name: string, backendName: string): KernelConfig {
  const k = tf.getKernel(name, backendName);
  if (!k)
    throw new Error(`kernel ${name} is not registered for ${backendName}: is @tensorflow/tfjs-backend-wasm imported?`);
  return k;
}

/** The kernel tfjs shipped for (name, backend) before the project replaced it; undefined if it had none. */
export function stockKernel(kernelName: string, backendName: string): KernelConfig | undefined {
  projectKernels();
  return stock.get(`${kernelName}/${backendName}`);
}

/** Gradients the project replaces (for every backend). */
export function projectGradients(): GradConfig[] {
  return [batchMatMulGradient(), layerNormGradient(), quickGeluGradient(), attentionGradient()];
}

let registered = false;

export function registerProjectKernels(): void {
  if (registered) return;
  const registry = tf.engine().registry as Record<string, unknown>;
  for (const config of projectKernels()) {
    if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName);
    tf.registerKernel(config);
    // a backend that is already initialised ran the setup functions of the kernels it had then
    const live = registry[config.backendName];
    if (live && config.setupFunc) config.setupFunc(live as never);
  }
  for (const grad of projectGradients()) tf.registerGradient(grad);
  registered = true;
}
