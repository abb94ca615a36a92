// The benchmark's command-line shell: --help, SIGINT/SIGTERM (the running cell saves a checkpoint and the command
// stops; a second signal exits at once), one-line errors, exit codes, backend shutdown and a clean MPI exit.
// Exit codes: 0 done, 1 a cell failed, 2 bad grid or flags, 3 data missing / aggregate incomplete, 130 stopped.
import { shutdownBackend } from '../../src/backend.ts';
import { getCollective, underMpiLauncher } from '../../src/distributed/collective.ts';
import { DeclarationError } from '../validate.ts';
import { MissingDataError } from '../runner.ts';
import { GridError } from './expand-grid.ts';
import { parseBenchmarkArgs, runBenchmark } from './run-benchmark.ts';

export const BENCHMARK_USAGE = `usage: node pipelines/benchmark.ts GRID [flags]

Trains every cell of the grid (data x model x method x seeds), evaluates each at step 0 and at the end with the
grid's suite, and writes OUT/results.csv, OUT/results.md, OUT/index.html. Rerun the same command after a kill:
finished cells are skipped, a partial one resumes from its latest checkpoint.

  --out DIR             output directory (default: the grid's out, else runs/benchmark-<name>)
  --cell i/N            run only slice i of N (cells whose index mod N is i; 0 <= i < N), for array jobs;
                        no aggregation: run --aggregate-only when every slice is done
  --only AXIS=V[,V]     run only cells with these values (AXIS: data, model, supervision, seed, cell); repeatable
  --aggregate-only      only (re)write the table from the finished cells
  --list                list the cells with their state (done, partial, new) and exit
  --FIELD VALUE         set a declaration field for every cell (e.g. --steps 20, --backend cpu, --threads 1);
                        the fields the axes set (supervision.*, model.*, seed) are the grid's
  --help                this text

Array jobs: Slurm  --cell $SLURM_ARRAY_TASK_ID/N; Kubernetes Indexed Job  --cell $JOB_COMPLETION_INDEX/N; then one
--aggregate-only. Data-parallel cells: mpirun -np K node pipelines/benchmark.ts GRID ... (rank 0 writes).
`;

export async function benchmarkCli(argv: string[]): Promise<never> {
  let code = 0;
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      process.stderr.write(`[benchmark] second ${sig}: exiting without saving\n`);
      process.exit(130);
    }
    process.stderr.write(`[benchmark] ${sig}: finishing the current step, saving a checkpoint, then stopping\n`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const args = parseBenchmarkArgs(argv);
    if (args.help) process.stdout.write(BENCHMARK_USAGE);
    else
      code = await runBenchmark(args, {
        log: (line) => process.stderr.write(line + '\n'),
        stop: stop.signal,
      });
  } catch (err) {
    const e = err as Error;
    const message = e?.message?.split('\n')[0] ?? String(err);
    if (e instanceof GridError || e instanceof DeclarationError) {
      process.stderr.write(`pipelines/benchmark.ts: ${argv.find((a) => !a.startsWith('-')) ?? ''}: ${message}\n`);
      code = 2;
    } else if (e instanceof MissingDataError) {
      process.stderr.write(`pipelines/benchmark.ts: ${message}\n`);
      code = 3;
    } else {
      process.stderr.write(`pipelines/benchmark.ts: ${message}\n`);
      if (process.env.CLIP_BENCH_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
      code = 1;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    shutdownBackend();
  }
  if (underMpiLauncher()) {
    if (code === 0) getCollective().finalize();
    else getCollective().abort(code);
  }
  process.exit(code);
}
