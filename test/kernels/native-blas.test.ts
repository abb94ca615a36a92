// The native BLAS path is used when the addon is built and the XNNPACK path when it is not (or when CLIP_BENCH_BLAS
// turns it off), and the backend line says which and why. Each case runs in a fresh process: the choice is made once,
// when the backend starts.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ADDON_PATH } from '../../src/kernels/native-blas.ts';

const repo = new URL('../../', import.meta.url);

const PROGRAM = `
import * as tf from '@tensorflow/tfjs';
import { initBackend, shutdownBackend } from './src/backend.ts';
import { batchMatMulRouting } from './src/kernels/batch-mat-mul.ts';
import { nativeBlasStatus } from './src/kernels/native-blas.ts';
const info = await initBackend({ backend: 'wasm', quiet: true });
const y = tf.matMul(tf.ones([64, 32]), tf.ones([32, 48]));
const ok = y.dataSync().every((v) => v === 32);
console.log(JSON.stringify({ reason: info.reason, status: nativeBlasStatus(), routing: batchMatMulRouting, ok }));
shutdownBackend();
`;

function run(env: Record<string, string>): Promise<{
  reason: string;
  status: { active: boolean; reason: string };
  routing: { blasCalls: number; xnnCalls: number };
  ok: boolean;
}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROGRAM], {
      cwd: repo,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`child exited ${code}: ${err.slice(0, 500)}`));
      else resolve(JSON.parse(line));
    });
  });
}

test('with the addon built, products run through the native BLAS and the backend line names it', async (t) => {
  const r = await run({ CLIP_BENCH_BLAS: '' });
  t.true(r.ok);
  if (!existsSync(ADDON_PATH)) {
    // a machine without a BLAS (or a failed build): the XNNPACK path, and the line says why
    t.false(r.status.active);
    t.regex(r.reason, /matmul: XNNPACK \(native BLAS addon not built/);
    t.true(r.routing.xnnCalls > 0 && r.routing.blasCalls === 0);
    return;
  }
  t.true(r.status.active);
  t.regex(r.reason, /matmul: (OpenBLAS|Accelerate|CBLAS).*in place on the wasm heap/);
  t.is(r.routing.blasCalls, 1);
  t.is(r.routing.xnnCalls, 0);
});

test('CLIP_BENCH_BLAS=off keeps the XNNPACK kernels and says so', async (t) => {
  const r = await run({ CLIP_BENCH_BLAS: 'off' });
  t.true(r.ok);
  t.false(r.status.active);
  t.regex(r.reason, /matmul: XNNPACK \(native BLAS disabled by CLIP_BENCH_BLAS\)/);
  t.is(r.routing.blasCalls, 0);
  t.is(r.routing.xnnCalls, 1);
});

test('CLIP_BENCH_THREADS sets the native thread count too', async (t) => {
  if (!existsSync(ADDON_PATH)) return t.pass('no addon on this machine');
  const r = await run({ CLIP_BENCH_THREADS: '1', CLIP_BENCH_BLAS: '' });
  t.regex(r.reason, /wasm with 1 thread\(s\).*matmul: .*, 1 thread\(s\)/);
});
