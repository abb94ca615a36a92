// Compute backend selection for tfjs in Node.
//
// Order for `backend: 'auto'`: @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (both optional dependencies that
// cannot install on machines without the libtensorflow download), else the wasm backend with one thread per core, else
// the pure-JS cpu backend. `CLIP_BENCH_BACKEND` (auto|tensorflow|wasm|cpu) overrides the default, `CLIP_BENCH_THREADS`
// the wasm thread count (also the native BLAS's: src/kernels/native-blas.ts). The project's kernels (src/kernels/)
// are registered for wasm and cpu before the backend is set.
//
// Multi-threaded wasm in Node: tfjs-backend-wasm 4.22 reports WASM_HAS_MULTITHREAD_SUPPORT=false under Node, hands
// Emscripten `blob:` URLs for its pthread worker scripts (Node workers cannot load them), and the C++ side caps the
// thread count at logical cores / 2. While the backend initialises we (1) set the flag, (2) record the Blob contents
// tfjs creates and redirect URL.createObjectURL to real temp files, (3) report twice the cores from os.cpus(); all
// three patches are undone once the backend exists. The pthread workers keep the process alive, so shutdownBackend()
// terminates them. The patches rely on tfjs-backend-wasm 4.22's internals
// (pinned; test/backend checks that the thread count took effect).
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerProjectKernels } from './kernels/register.ts';
import { enableNativeBlas } from './kernels/native-blas.ts';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface InitBackendOptions {
  backend?: BackendChoice;
  /** wasm threads; default one per core (os.availableParallelism()) or CLIP_BENCH_THREADS. */
  threads?: number;
  quiet?: boolean;
}

export interface BackendInfo {
  /** tfjs backend name: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** compute threads in use (wasm: XNNPACK threads; cpu: 1; tensorflow: cores, managed by libtensorflow). */
  threads: number;
  /** one line saying why this backend was chosen. */
  reason: string;
}

const CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

let current: BackendInfo | null = null;
let wasmThreads = 0;

export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const envChoice = process.env.CLIP_BENCH_BACKEND;
  const choice = options.backend ?? (envChoice ? parseChoice(envChoice, 'CLIP_BENCH_BACKEND') : 'auto');
  if (!CHOICES.includes(choice))
    throw new Error(`initBackend: unknown backend '${choice}' (expected ${CHOICES.join('|')})`);
  const threads = options.threads ?? envThreads() ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`initBackend: threads must be a positive integer, got ${threads}`);

  registerProjectKernels();
  const notes: string[] = [];
  let info: BackendInfo | null = null;

  if (choice === 'auto' || choice === 'tensorflow') {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      const r = await tryTensorflow(pkg);
      if (typeof r === 'string') {
        notes.push(r);
        continue;
      }
      info = { name: 'tensorflow', threads: os.availableParallelism(), reason: `${pkg} loaded (libtensorflow)` };
      break;
    }
    if (!info && choice === 'tensorflow') {
      throw new Error(`initBackend: backend 'tensorflow' requested but unavailable: ${notes.join('; ')}`);
    }
  }
  if (!info && (choice === 'auto' || choice === 'wasm')) {
    const r = await tryWasm(threads);
    if (typeof r === 'string') {
      if (choice === 'wasm') throw new Error(`initBackend: backend 'wasm' requested but failed: ${r}`);
      notes.push(r);
    } else {
      const matmul = enableNativeBlas(r).reason; // the native BLAS addon when built, else XNNPACK
      info = {
        name: 'wasm',
        threads: r,
        reason: `wasm with ${r} thread(s) (${os.availableParallelism()} cores); ${matmul}`,
      };
    }
  }
  if (!info) {
    if (!(await tf.setBackend('cpu'))) throw new Error('initBackend: even the cpu backend failed to initialise');
    info = { name: 'cpu', threads: 1, reason: 'pure-JS cpu backend' };
  }
  await tf.ready();
  const why = choice === 'auto' ? [...notes, info.reason].join('; ') : `${choice} requested: ${info.reason}`;
  current = { ...info, reason: why };
  if (!options.quiet) console.error(`[backend] ${current.name}, ${current.threads} thread(s): ${current.reason}`);
  return current;
}

/** The backend chosen by the last initBackend call, or null. */
export function backendInfo(): BackendInfo | null {
  return current;
}

/**
 * Stop the wasm pthread workers (they keep the event loop alive): call it when done with tf. Safe to call more than
 * once or without init; the wasm backend cannot be used again in this process afterwards.
 */
export function shutdownBackend(): void {
  const registered = tf.engine().registry as Record<string, unknown>;
  const backend = registered.wasm as { wasm?: { PThread?: { terminateAllThreads(): void } } } | undefined;
  backend?.wasm?.PThread?.terminateAllThreads();
  if (wasmThreads > 1) wasmThreads = -1;
  current = null;
}

function parseChoice(value: string, source: string): BackendChoice {
  if (!(CHOICES as readonly string[]).includes(value)) {
    throw new Error(`${source}='${value}' is not one of ${CHOICES.join('|')}`);
  }
  return value as BackendChoice;
}

function envThreads(): number | undefined {
  const v = process.env.CLIP_BENCH_THREADS;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`CLIP_BENCH_THREADS='${v}' is not a positive integer`);
  return n;
}

/** Returns null on success, or a one-line note why the package could not be used. */
async function tryTensorflow(pkg: string): Promise<null | string> {
  try {
    const specifier: string = pkg; // non-literal: the optional packages have no type declarations here
    await import(specifier);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') return `${pkg} not installed`;
    return `${pkg} failed to load (${firstLine(err.message)})`;
  }
  try {
    if (await tf.setBackend('tensorflow')) return null;
    return `${pkg} loaded but its backend did not initialise`;
  } catch (e) {
    return `${pkg} backend failed (${firstLine((e as Error).message)})`;
  }
}

/** Returns the thread count in use, or a one-line note why wasm could not be used. */
async function tryWasm(threads: number): Promise<number | string> {
  if (wasmThreads < 0) return 'the multi-threaded wasm backend was shut down in this process';
  if (wasmThreads > 0) {
    // initialised earlier in this process: switch back to it
    return (await tf.setBackend('wasm')) ? wasmThreads : 'wasm backend did not re-activate';
  }
  try {
    wasm.setThreadsCount(threads);
    const ok = threads > 1 ? await withThreadShim(() => tf.setBackend('wasm')) : await tf.setBackend('wasm');
    if (!ok) return 'wasm backend did not initialise';
    wasmThreads = wasm.getThreadsCount();
    trimIdleWorkers(wasmThreads);
    return wasmThreads;
  } catch (e) {
    return `wasm failed (${firstLine((e as Error).message ?? String(e))})`;
  }
}

function firstLine(s: string | undefined): string {
  return (s ?? 'unknown error').split('\n')[0]!.slice(0, 200);
}

// ---- the multi-threading shim --------------------------------------------------------------------------------

// Identifiers that the Emscripten factory (whose source tfjs sends to each pthread worker) takes from the rollup
// bundle scope of tf-backend-wasm.node.js; they must exist in the worker's global scope too.
const WORKER_MAIN_PRELUDE = `// evaluated with indirect eval: must stay sloppy-mode so its vars become globals
var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os');
var commonjsGlobal = globalThis;
var __values = function (o) { var s = typeof Symbol === 'function' && Symbol.iterator, m = s && o[s], i = 0;
  if (m) return m.call(o);
  if (o && typeof o.length === 'number') return { next: function () { if (o && i >= o.length) o = void 0; return { value: o && o[i++], done: !o }; } };
  throw new TypeError(s ? 'Object is not iterable.' : 'Symbol.iterator is not defined.'); };
var __read = function (o, n) { var m = typeof Symbol === 'function' && o[Symbol.iterator]; if (!m) return o;
  var i = m.call(o), r, ar = [], e;
  try { while ((n === void 0 || n-- > 0) && !(r = i.next()).done) ar.push(r.value); } catch (error) { e = { error: error }; }
  finally { try { if (r && !r.done && (m = i['return'])) m.call(i); } finally { if (e) throw e.error; } }
  return ar; };
var __spreadArray = function (to, from, pack) { if (pack || arguments.length === 2) for (var i = 0, l = from.length, ar; i < l; i++) {
  if (ar || !(i in from)) { if (!ar) ar = Array.prototype.slice.call(from, 0, i); ar[i] = from[i]; } }
  return to.concat(ar || Array.prototype.slice.call(from)); };
`;

async function withThreadShim<T>(run: () => Promise<T>): Promise<T> {
  const RealBlob = globalThis.Blob;
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = os.cpus;
  const parts = new WeakMap<object, string>();
  let mainScript: string | null = null;
  let mainScriptPath: string | null = null;

  // (2) Record the text of every Blob tfjs builds; the main-script Blob is sent to workers, the worker Blob goes
  // through createObjectURL.
  const RecordingBlob = function (this: unknown, blobParts?: unknown[], opts?: { type?: string }) {
    const blob = new RealBlob(blobParts as string[], opts);
    if (Array.isArray(blobParts) && blobParts.every((p) => typeof p === 'string')) {
      const text = (blobParts as string[]).join('');
      parts.set(blob, text);
      if (text.startsWith('var WasmBackendModuleThreadedSimd')) mainScript = text;
    }
    return blob;
  } as unknown as typeof Blob;
  RecordingBlob.prototype = RealBlob.prototype;

  URL.createObjectURL = (obj: Blob): string => {
    const text = parts.get(obj);
    if (text === undefined) return realCreateObjectURL(obj);
    if (mainScript === null) throw new Error('wasm thread shim: worker requested before the main script was seen');
    mainScriptPath ??= writeCached('main', WORKER_MAIN_PRELUDE + mainScript);
    // The worker turns the (non-string) main-script Blob into an object URL and importScripts() it: answer that
    // with the temp file holding the same source.
    const workerPrelude = `"use strict";URL.createObjectURL=function(){return ${JSON.stringify(mainScriptPath)}};URL.revokeObjectURL=function(){};\n`;
    return writeCached('worker', workerPrelude + text);
  };
  // (3) The C++ side uses at most logical_cores/2 threads.
  const doubled = () => {
    const c = realCpus();
    return [...c, ...c];
  };
  (os as { cpus: typeof os.cpus }).cpus = doubled;
  globalThis.Blob = RecordingBlob;
  // (1) tfjs says "no threads" whenever IS_NODE.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  try {
    return await run();
  } finally {
    globalThis.Blob = RealBlob;
    URL.createObjectURL = realCreateObjectURL;
    (os as { cpus: typeof os.cpus }).cpus = realCpus;
  }
}

/** Content-addressed temp file (CommonJS, so the worker can `require`); written atomically, reused across runs. */
function writeCached(kind: string, text: string): string {
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'clip-bench-tfjs-wasm');
  const file = path.join(dir, `${kind}-${hash}.cjs`);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return file;
}

/** Emscripten pre-spawns 8 pthread workers (~20 MB each); keep only what XNNPACK's pool can use. */
function trimIdleWorkers(threads: number): void {
  const backend = tf.backend() as unknown as { wasm?: { PThread?: { unusedWorkers: Array<{ terminate(): void }> } } };
  const pool = backend.wasm?.PThread?.unusedWorkers;
  if (!pool) return;
  const keep = Math.max(1, threads);
  while (pool.length > keep) pool.pop()!.terminate();
}
