// Setting up tfjs's webgpu backend on this process's Dawn device (src/webgpu/gpu.ts): the backend object with the
// project's guards, the project's kernels, the deterministic mode, and a numeric check before anything trusts it.
import * as tf from '@tensorflow/tfjs';
import { acquireDevice, describeAdapter, registerWebgpuBackend, type AdapterSummary } from './gpu.ts';
import { registerWebgpuKernels, deterministicMode } from './kernels.ts';
import { throwIfDeviceErrors, watchUncapturedErrors } from './error-scope.ts';
import type { WebgpuBackend } from './dispatch.ts';

export interface WebgpuReady {
  summary: AdapterSummary;
  /** One line for the backend log: the adapter, its limits, the mode. */
  description: string;
}

interface ProgramLike {
  constructor: { name: string };
  outputShape?: number[];
}

/**
 * Refuse bindings the device cannot address: tfjs-backend-webgpu 4.22 binds a buffer larger than
 * maxStorageBufferBindingSize anyway and the kernel silently reads zeros past the limit (wrong sums).
 */
function guardBindingSize(backend: WebgpuBackend): void {
  const limit = backend.device.limits.maxStorageBufferBindingSize;
  const original = backend.runWebGPUProgram.bind(backend);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  backend.runWebGPUProgram = (program, inputs, outputDtype, uniforms, output) => {
    const p = program as ProgramLike;
    const outShape = output?.shape ?? p.outputShape ?? [];
    for (const [what, shape] of [
      ...inputs.map((t, i) => [`input ${i}`, t.shape] as const),
      ['output', outShape] as const,
    ]) {
      const bytes = tf.util.sizeFromShape(shape as number[]) * 4;
      if (bytes > limit)
        throw new Error(
          `webgpu: ${p.constructor.name} ${what} [${shape}] is ${mib(bytes)}, more than this adapter can bind (maxStorageBufferBindingSize ${mib(limit)}); use a smaller (micro-)batch`,
        );
    }
    return original(program, inputs, outputDtype, uniforms, output);
  };
}

/** A small computation whose result is known: matMul, a reduction and an elementwise op. */
async function sanityCheck(): Promise<string | null> {
  const m = 37,
    k = 70,
    n = 19;
  const a = new Float32Array(m * k).map((_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const b = new Float32Array(k * n).map((_, i) => ((i * 104729) % 17) / 17 - 0.5);
  let want = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q]! * b[q * n + j]!;
      want += Math.tanh(s);
    }
  const t = tf.tidy(() => tf.sum(tf.tanh(tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])))));
  try {
    const got = (await t.data())[0]!;
    throwIfDeviceErrors('the start-up check');
    if (!(Math.abs(got - want) <= 1e-3 * Math.max(1, Math.abs(want))))
      return `numeric check failed (sum tanh(A·B) = ${got}, expected ${want.toFixed(5)})`;
    return null;
  } catch (e) {
    return `numeric check failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    t.dispose();
  }
}

/**
 * Make `webgpu` the active tfjs backend. A software adapter is refused unless `allowSoftware`. Resolves to a one-line
 * reason when WebGPU cannot be used here (the caller falls back or stops with it).
 */
export async function initWebgpu(options: { allowSoftware: boolean }): Promise<WebgpuReady | string> {
  const got = await acquireDevice();
  if (typeof got === 'string') return got;
  const { device, summary } = got;
  if (summary.software && !options.allowSoftware)
    return `only a software adapter (${summary.device || summary.description}); it is used only when asked for (--backend webgpu)`;
  try {
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    await registerWebgpuBackend((d, info) => {
      const backend = new WebGPUBackend(d, info);
      guardBindingSize(backend as unknown as WebgpuBackend);
      return backend;
    });
    registerWebgpuKernels();
    watchUncapturedErrors(device);
    if (!(await tf.setBackend('webgpu'))) return 'the tfjs webgpu backend did not initialise';
  } catch (e) {
    return `the tfjs webgpu backend failed: ${(e as Error).message.split('\n')[0]}`;
  }
  const bad = await sanityCheck();
  if (bad) return bad;
  const mode = deterministicMode() ? 'deterministic kernels' : 'atomic (non-deterministic) kernels allowed';
  return { summary, description: `${describeAdapter(summary)}; ${mode}` };
}
