// Run parts 0..N-1 of a job as child processes of its own script (`--part i/N` appended), `parallel` at a time.
// Parts are idempotent, so a failed run is retried by rerunning the job: finished parts are skipped.
import { spawn } from 'node:child_process';

export async function runPartsInProcesses(o: {
  script: string;
  argv: string[];
  parts: number;
  parallel: number;
  job: string;
  retryHint: string;
}): Promise<void> {
  let next = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (next < o.parts) {
      const i = next++;
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, [o.script, ...o.argv, '--part', `${i}/${o.parts}`], {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, YFCC_PLAIN_PROGRESS: '1' },
        });
        child.on('error', reject);
        child.on('close', (c) => resolve(c ?? 1));
      });
      if (code !== 0) failures.push(`part ${i}/${o.parts} exited with ${code}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.parallel, o.parts) }, worker));
  if (failures.length) throw new Error(`${o.job}: ${failures.join('; ')} (${o.retryHint})`);
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
