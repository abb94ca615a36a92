// WebGPU errors as exceptions. tfjs-backend-webgpu never checks for device errors: an invalid shader, an oversized
// binding or an out-of-memory allocation is printed by Dawn and the kernel's output is garbage. Here every error the
// device reports is turned into an exception that names what was running:
//   - deviceErrorScope() opens error scopes (validation, out-of-memory, internal) around a unit of work — the trainer
//     opens one per step — and close(label) rejects with the first error, e.g. "WebGPU validation error in training
//     step 12: …";
//   - errors outside any scope arrive as `uncapturederror` events; they are kept and reported by the next close()
//     (or by throwIfDeviceErrors()).
import * as tf from '@tensorflow/tfjs';
import { webgpuDevice } from './gpu.ts';

export class WebgpuError extends Error {}

const uncaptured: string[] = [];
const listening = new WeakSet<GPUDevice>();

/** Start recording errors the device reports outside error scopes (idempotent). */
export function watchUncapturedErrors(device: GPUDevice): void {
  if (listening.has(device)) return;
  listening.add(device);
  device.addEventListener('uncapturederror', (event) => {
    const e = (event as GPUUncapturedErrorEvent).error;
    uncaptured.push(`${e.constructor.name.replace(/^GPU/, '')}: ${firstLine(e.message)}`);
  });
}

/** Throw (and forget) the errors recorded outside scopes. */
export function throwIfDeviceErrors(label: string): void {
  if (uncaptured.length === 0) return;
  const all = uncaptured.splice(0);
  throw new WebgpuError(
    `WebGPU error during ${label}: ${all[0]}${all.length > 1 ? ` (and ${all.length - 1} more)` : ''}`,
  );
}

export interface ErrorScope {
  /** Resolves when the scope saw no error; rejects with a WebgpuError naming `label` otherwise. */
  close(label: string): Promise<void>;
}

const KINDS: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

/** Error scopes around the work recorded from now until close(); a no-op on other backends. */
export function deviceErrorScope(): ErrorScope {
  const device = tf.getBackend() === 'webgpu' ? webgpuDevice() : null;
  if (!device) return { close: async () => {} };
  for (const k of KINDS) device.pushErrorScope(k);
  return {
    async close(label: string) {
      // pop in reverse order of the pushes: internal, out-of-memory, validation
      const errors = await Promise.all([...KINDS].reverse().map(() => device.popErrorScope()));
      const first = errors.find((e) => e !== null);
      if (first) {
        uncaptured.splice(0);
        throw new WebgpuError(`WebGPU ${kindOf(first)} error in ${label}: ${firstLine(first.message)}`);
      }
      throwIfDeviceErrors(label);
    },
  };
}

function kindOf(e: GPUError): string {
  const name = e.constructor.name;
  if (/OutOfMemory/.test(name)) return 'out-of-memory';
  if (/Internal/.test(name)) return 'internal';
  return 'validation';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}
