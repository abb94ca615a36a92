// Run parts 0..N-1 of a job as child processes of its own script (`--part i/N` appended), `parallel` at a time.
// Parts are idempotent, so a failed run is retried by rerunning the job: finished parts are skipped.
//
// Each worker has an IPC channel to the coordinator. When the coordinator dies (even by `kill -9`) the channel closes;
// the worker notices (watchCoordinator), aborts its run, which removes its temporary files and stops the processes it
// started (decompressors, pipe commands), and exits. When the coordinator is interrupted (SIGINT/SIGTERM), it
// interrupts its workers and waits for them.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { UsageError, type ParsedCommandLine } from '../command.ts';
import { numberFlag as num } from '../../src/yfcc/number-flag.ts';
import { parsePart, type Part } from '../../src/yfcc/part.ts';

/**
 * Exit code of a command or part that finished its work but left something a rerun should retry (the shards job's
 * slices that are not final). Not a failure for the coordinator; distinct from run/command.ts's EXIT codes.
 */
export const INCOMPLETE_EXIT_CODE = 4;

export async function runPartsInProcesses(o: {
  script: string;
  argv: string[];
  parts: number;
  parallel: number;
  job: string;
  retryHint: string;
  signal?: AbortSignal;
}): Promise<{ incomplete: number[] }> {
  let next = 0;
  const failures: string[] = [];
  const incomplete: number[] = [];
  const running = new Set<ChildProcess>();
  const interrupt = () => {
    for (const child of running) child.kill('SIGINT');
  };
  o.signal?.addEventListener('abort', interrupt, { once: true });
  const worker = async () => {
    while (next < o.parts && !o.signal?.aborted) {
      const i = next++;
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, [o.script, ...o.argv, '--part', `${i}/${o.parts}`], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          // Its own process group: a Ctrl-C in the terminal reaches the coordinator only, which interrupts each worker
          // once (a second SIGINT would make a worker exit before removing its temporary files).
          detached: true,
          env: { ...process.env, YFCC_PLAIN_PROGRESS: '1' },
        });
        running.add(child);
        child.on('error', reject);
        child.on('close', (c, signal) => {
          running.delete(child);
          resolve(c ?? (signal === 'SIGINT' ? 130 : 1));
        });
      });
      if (code === INCOMPLETE_EXIT_CODE) incomplete.push(i);
      else if (code !== 0) failures.push(`part ${i}/${o.parts} exited with ${code}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.parallel, o.parts) }, worker));
  } finally {
    o.signal?.removeEventListener('abort', interrupt);
  }
  if (o.signal?.aborted) throw o.signal.reason;
  if (failures.length) throw new Error(`${o.job}: ${failures.join('; ')} (${o.retryHint})`);
  return { incomplete };
}

/**
 * In a worker started by runPartsInProcesses: abort `controller` when the coordinator's IPC channel closes (the
 * coordinator died). The channel does not keep the worker alive. No-op in a process started otherwise.
 */
export function watchCoordinator(controller: AbortController): void {
  if (!process.channel) return;
  process.channel.unref();
  process.once('disconnect', () => {
    controller.abort(new Error('the coordinator process is gone; stopping this part (a rerun redoes it)'));
  });
}

/** Every flag except the part-splitting ones, to forward to the worker processes. */
export function workerArgs(argv: string[]): string[] {
  const forwarded: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--parts' || argv[i] === '--parallel') {
      i++;
      continue;
    }
    if (!/^--(parts|parallel)=/.test(argv[i])) forwarded.push(argv[i]);
  }
  return forwarded;
}

/** How many parts and workers the command line asks for; a bad value is a UsageError. */
export function partsFromFlags(v: ParsedCommandLine['values']): { part?: Part; parts: number; parallel: number } {
  try {
    const parts = num(v.parts as string | undefined, 'parts') ?? 1;
    if (!(Number.isInteger(parts) && parts >= 1)) throw new Error(`--parts: expected a positive integer, got ${parts}`);
    const parallel = num(v.parallel as string | undefined, 'parallel') ?? Math.min(parts, cpus().length);
    if (!(Number.isInteger(parallel) && parallel >= 1))
      throw new Error(`--parallel: expected a positive integer, got ${parallel}`);
    return { part: v.part ? parsePart(v.part as string) : undefined, parts, parallel };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
