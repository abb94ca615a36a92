// Spawn a pipeline script as a child process (its own tfjs backend), collect stderr, resolve with the exit code.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const nodeBin = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));
export const demoShards = fileURLToPath(new URL('../../fixtures/demo/train-{000000..000003}.tar', import.meta.url));
export const demoVocab = fileURLToPath(new URL('../../fixtures/demo/vocab.txt.gz', import.meta.url));

/** Small heads for the tiny model, per supervision (the seed's sizes are for 512-d embeddings). */
export const tinyOptions: Record<string, Record<string, unknown>> = {
  clip: {},
  declip: { projectorHidden: 64, projectorOut: 64, predictorHidden: 32, queueSize: 256, headGhostSize: 4 },
  slip: { mlpHidden: 64, mlpOut: 32 },
  filip: { denseDim: 32, topK: 4 },
  defilip: {
    projectorHidden: 64,
    projectorOut: 64,
    predictorHidden: 32,
    queueSize: 256,
    headGhostSize: 4,
    denseDim: 32,
    topK: 4,
  },
};

export function tinyArgs(method: string, out: string, extra: string[] = []): string[] {
  return [
    '--data',
    demoShards,
    '--model',
    'tiny',
    '--text.vocab-path',
    demoVocab,
    '--text.context-length',
    '16',
    '--supervision.options',
    JSON.stringify(tinyOptions[method]),
    '--batch-size',
    '8',
    '--micro-batch',
    '4',
    '--backend',
    'wasm',
    '--threads',
    '1',
    '--out',
    out,
    '--progress',
    'plain',
    '--logging.every',
    '1',
    '--data.decode-concurrency',
    '2',
    ...extra,
  ];
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  child: ChildProcess;
}

export function startPipeline(
  script: string,
  args: string[],
  onStderr?: (chunk: string, child: ChildProcess) => void,
): Promise<ChildRun> {
  const child = spawn(nodeBin, [script, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CLIP_BENCH_YFCC15M: '' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    const s = d.toString();
    stderr += s;
    onStderr?.(s, child);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, child }));
  });
}
