// `--parallel P`: the benchmark's slices as P child processes on this machine (each `--cell i/P` of the same command,
// its output lines prefixed with the slice), for when one process cannot use every core (tiny models on wasm: two
// single-threaded processes train about twice the cells of one two-threaded process). A stop request is passed to
// the children (each saves its checkpoint); a child whose parent dies (kill -9) stops itself the same way, so no
// orphan keeps training while a rerun resumes its cell.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';

/** The command's arguments without `--parallel P` (and without any `--cell`, which each child gets its own of). */
export function sliceArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--parallel' || argv[i] === '--cell') {
      i++;
      continue;
    }
    if (!/^--(parallel|cell)=/.test(argv[i])) out.push(argv[i]);
  }
  return out;
}

/** Runs slices 0..P-1 at once; resolves with each child's exit code. */
export async function runSlicesInProcesses(o: {
  script: string;
  argv: string[];
  parallel: number;
  log: (line: string) => void;
  stop?: AbortSignal;
}): Promise<number[]> {
  // each child gets its share of the cores for its compute threads, unless the user chose a thread count
  const threads = String(Math.max(1, Math.floor(availableParallelism() / o.parallel)));
  const children: ChildProcess[] = [];
  const onStop = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  o.stop?.addEventListener('abort', onStop, { once: true });
  try {
    return await Promise.all(
      Array.from({ length: o.parallel }, (_, i) => {
        const child = spawn(process.execPath, [o.script, ...o.argv, '--cell', `${i}/${o.parallel}`], {
          stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
          env: { ...process.env, CLIP_BENCH_THREADS: process.env.CLIP_BENCH_THREADS ?? threads },
        });
        children.push(child);
        createInterface({ input: child.stderr! }).on('line', (line) => o.log(`[slice ${i}/${o.parallel}] ${line}`));
        return new Promise<number>((resolve, reject) => {
          child.on('error', reject);
          child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 1)));
        });
      }),
    );
  } finally {
    o.stop?.removeEventListener('abort', onStop);
  }
}

/** In a slice started by runSlicesInProcesses: stop (as on SIGTERM) when the parent goes away. */
export function stopWhenParentDies(): void {
  if (!process.send) return;
  process.channel?.unref(); // the channel alone must not keep the process alive
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
