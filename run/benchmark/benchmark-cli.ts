// The benchmark's command-line spec for runCommand (run/command.ts): --help, one-line errors, exit codes (0 done,
// 1 a cell failed, 2 bad grid or flag, 3 no data or an incomplete --aggregate-only, 130/143 stopped by
// SIGINT/SIGTERM after the running cell saved a checkpoint), and a clean MPI exit under mpirun/srun.
import { EXIT, type CommandSpec } from '../command.ts';
import { getCollective, underMpiLauncher } from '../../src/distributed/collective.ts';
import { parseBenchmarkArgs, type BenchmarkArgs } from './run-benchmark.ts';
import { GridError } from './expand-grid.ts';

export const benchmarkCommand: CommandSpec<BenchmarkArgs> = {
  usage: [
    'GRID [--out DIR] [--cell i/N | --parallel P] [--only AXIS=V[,V]]... [--FIELD VALUE]...',
    'GRID [--out DIR] --aggregate-only [--publish DIR]',
    'GRID [--out DIR] --list',
  ],
  about:
    'Trains every cell of a benchmark grid (data x model x method x seeds; GRID is a grid file such as ' +
    "grids/demo.ts), evaluates each at step 0 and at the end with the grid's suite, and writes OUT/results.csv " +
    "(clip_benchmark build's columns + the axes), OUT/results.md, OUT/index.html and OUT/plots/. Rerun the same " +
    'command after a kill: finished ' +
    'cells are skipped and a partial one resumes from its latest checkpoint.',
  positionals: true,
  options: {
    out: { type: 'string', arg: 'DIR', help: "output directory (default: the grid's out, else runs/benchmark-<name>)" },
    cell: {
      type: 'string',
      arg: 'i/N',
      help: 'run slice i of N only (cells whose index mod N is i), for array jobs; no aggregation',
    },
    parallel: {
      type: 'string',
      arg: 'P',
      help: 'run the slices as P processes on this machine (compute threads split between them), then aggregate',
    },
    only: {
      type: 'string',
      arg: 'AXIS=V[,V]',
      multiple: true,
      help: 'run only the cells with these values (AXIS: data, model, supervision, seed, cell)',
    },
    'aggregate-only': { type: 'boolean', help: 'only (re)write the table from the finished cells' },
    publish: {
      type: 'string',
      arg: 'DIR',
      help: 'also write the table (CSV, Markdown, HTML, plots; no links to the cells) into DIR, e.g. docs/',
    },
    list: { type: 'boolean', help: 'list the cells and their state (done, partial, new), then exit' },
    FIELD: {
      type: 'string',
      arg: 'VALUE',
      help: "any declaration field for every cell (--steps 20, --backend cpu, --threads 1); not the axes' fields",
    },
  },
  notes: `Array jobs run one slice per task, then one aggregate step writes the same table as a single process:
  Slurm:       #SBATCH --array=0-7
               node pipelines/benchmark.ts GRID --out DIR --cell $SLURM_ARRAY_TASK_ID/8
               then, after the array (sbatch --dependency=afterok:JOBID):  ... --out DIR --aggregate-only
  Kubernetes:  an Indexed Job (completionMode: Indexed, completions: 8), DIR on a shared volume:
               node pipelines/benchmark.ts GRID --out DIR --cell $JOB_COMPLETION_INDEX/8
               then one Job with --aggregate-only
Data-parallel cells: start the command under MPI, e.g. mpirun -np 4 node pipelines/benchmark.ts GRID --cell 0/2;
every rank trains each cell on its share of the batch, rank 0 evaluates and writes (docs/distributed.md).`,
  parse: (argv) => {
    try {
      return parseBenchmarkArgs(argv);
    } catch (err) {
      throw Object.assign(err as Error, { exitCode: EXIT.usage });
    }
  },
  onExit: (code) => {
    if (!underMpiLauncher()) return;
    if (code === EXIT.ok) getCollective().finalize();
    else getCollective().abort(code);
  },
};

/** Bad grids and declarations are usage errors (exit 2); the message names the grid file. */
export function usageError(gridFile: string, err: unknown): never {
  if (err instanceof GridError || (err as Error)?.name === 'DeclarationError')
    throw Object.assign(new Error(`${gridFile}: ${(err as Error).message}`), { exitCode: EXIT.usage });
  throw err;
}
