// Test helper: the webgpu backend on whatever adapter this machine has (a software one in CI: Mesa's lavapipe), or the
// reason there is none. Tests that need it register through `gpuTest`, which skips them, with the reason in the title,
// where no adapter exists.
import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.ts';

let tried: Promise<string | null> | null = null;

/** Initialise webgpu once per process; null when it works, else why not. */
export function webgpuUnavailable(): Promise<string | null> {
  tried ??= initBackend({ backend: 'webgpu', quiet: true }).then(
    () => null,
    (e: Error) => e.message.replace(/^initBackend: /, ''),
  );
  return tried;
}

/** Make webgpu the active backend again (after a test switched to another). */
export async function useWebgpu(): Promise<void> {
  if ((await webgpuUnavailable()) === null && tf.getBackend() !== 'webgpu') await tf.setBackend('webgpu');
}

/**
 * `test.serial` when webgpu is available, otherwise one skipped test per title with the reason in it. Call at module
 * top level after `await webgpuUnavailable()`.
 */
export function gpuTestFor(reason: string | null) {
  return (title: string, fn: (t: ExecutionContext) => void | Promise<void>) =>
    reason === null ? test.serial(title, fn) : test.skip(`${title} (skipped: ${reason})`, fn);
}
