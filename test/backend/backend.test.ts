import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { initBackend, shutdownBackend, backendInfo } from '../../src/backend.ts';

const repo = new URL('../../', import.meta.url);
const nodeBin = process.execPath;
const backendUrl = new URL('../../src/backend.ts', import.meta.url).href;

/**
 * Run a small ESM program in a fresh Node process; resolves with its exit code (null if we had to kill it: after
 * killAfterMs, or `graceMs` after it printed a line 'ready').
 */
function runChild(
  code: string,
  env: Record<string, string> = {},
  killAfterMs = 30000,
  graceMs = 2000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(nodeBin, ['--input-type=module', '-e', code], {
      cwd: repo,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/^ready$/m.test(stdout))
        setTimeout(() => {
          if (child.exitCode === null) child.kill('SIGKILL');
        }, graceMs);
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout, stderr: stderr.slice(0, 2000), ms: Date.now() - t0 });
    });
  });
}

test.before(async () => {
  await initBackend({ backend: 'wasm', quiet: true });
});
test.after.always(() => shutdownBackend());

test.serial('wasm runs one XNNPACK thread per core (more than one on a multi-core machine)', (t) => {
  const cores = os.availableParallelism();
  t.is(tf.getBackend(), 'wasm');
  t.is(wasm.getThreadsCount(), cores);
  t.is(backendInfo()?.threads, cores);
  if (cores > 1) t.true(wasm.getThreadsCount() > 1);
});

test.serial('multi-threaded wasm computes the same matMul as the cpu backend', async (t) => {
  const a = tf.randomNormal([96, 130], 0, 1, 'float32', 1),
    b = tf.randomNormal([130, 70], 0, 1, 'float32', 2);
  const got = tf.matMul(a, b).dataSync();
  const [ad, bd] = [a.dataSync(), b.dataSync()];
  await tf.setBackend('cpu');
  const want = tf.tidy(() => tf.matMul(tf.tensor(ad, [96, 130]), tf.tensor(bd, [130, 70])).dataSync());
  await tf.setBackend('wasm');
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
  t.true(worst < 1e-4, `max |diff| ${worst}`);
  tf.dispose([a, b]);
});

test.serial('bad options give one-line errors', async (t) => {
  await t.throwsAsync(initBackend({ backend: 'gpu' as never, quiet: true }), { message: /unknown backend 'gpu'/ });
  await t.throwsAsync(initBackend({ threads: 0, quiet: true }), { message: /threads must be a positive integer/ });
});

test('a process that initialises multi-threaded wasm and calls shutdownBackend exits by itself', async (t) => {
  const r = await runChild(`
    import * as tf from '@tensorflow/tfjs';
    import { initBackend, shutdownBackend } from '${backendUrl}';
    const info = await initBackend({ quiet: true });
    const s = tf.sum(tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]))).dataSync()[0];
    console.log(JSON.stringify({ ...info, s }));
    shutdownBackend();`);
  t.is(r.code, 0, r.stderr);
  t.true(r.ms < 20000, `took ${r.ms} ms`);
  const info = JSON.parse(r.stdout.trim());
  t.is(info.s, 64 * 64 * 64);
  // auto: the optional native packages are absent here, so it falls through to multi-threaded wasm and says why
  t.is(info.name, 'wasm');
  t.regex(
    info.reason,
    /@tensorflow\/tfjs-node-gpu not installed; @tensorflow\/tfjs-node not installed; wasm with \d+ thread/,
  );
});

test('without shutdownBackend the pthread workers keep the process alive (why shutdown exists)', async (t) => {
  const r = await runChild(`
    import { initBackend } from '${backendUrl}';
    await initBackend({ backend: 'wasm', quiet: true });
    console.log('ready');`);
  t.is(r.stdout.trim(), 'ready');
  t.is(r.code, null, 'expected the child to still be running when killed');
});

test('CLIP_BENCH_BACKEND selects the backend, and the choice is printed with its reason', async (t) => {
  const r = await runChild(
    `
    import { initBackend, shutdownBackend } from '${backendUrl}';
    const info = await initBackend();
    console.log(JSON.stringify(info));
    shutdownBackend();`,
    { CLIP_BENCH_BACKEND: 'cpu' },
  );
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).name, 'cpu');
  t.regex(r.stderr, /\[backend\] cpu, 1 thread\(s\): cpu requested/);
  const bad = await runChild(
    `
    import { initBackend } from '${backendUrl}';
    try { await initBackend({ quiet: true }); } catch (e) { console.log(e.message); }`,
    { CLIP_BENCH_BACKEND: 'tpu' },
  );
  t.is(bad.stdout.trim(), "CLIP_BENCH_BACKEND='tpu' is not one of auto|tensorflow|wasm|cpu");
});

test('requesting the tensorflow backend without the optional packages fails with a clear message', async (t) => {
  const r = await runChild(`
    import { initBackend } from '${backendUrl}';
    try { await initBackend({ backend: 'tensorflow', quiet: true }); } catch (e) { console.log(e.message); }`);
  t.is(r.code, 0, r.stderr);
  t.is(
    r.stdout.trim(),
    "initBackend: backend 'tensorflow' requested but unavailable: @tensorflow/tfjs-node-gpu not installed; " +
      '@tensorflow/tfjs-node not installed',
  );
});

test('tfjs-node packages are optional dependencies, so a failed native install cannot fail npm ci', (t) => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', repo), 'utf8'));
  const lock = JSON.parse(readFileSync(new URL('package-lock.json', repo), 'utf8'));
  for (const name of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    t.truthy(pkg.optionalDependencies?.[name], `${name} in optionalDependencies`);
    t.falsy(pkg.dependencies?.[name], `${name} not a hard dependency`);
    const entry = lock.packages?.[`node_modules/${name}`];
    if (entry) t.true(entry.optional === true, `${name} is optional in package-lock.json`);
  }
});
