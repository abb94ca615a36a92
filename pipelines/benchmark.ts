// The benchmark: trains a grid over data x supervision x model x seeds and writes the CLIP-Benchmark table.
//
//   node pipelines/benchmark.ts GRID [--out DIR] [--cell i/N] [--only AXIS=V[,V]] [--aggregate-only] [--list]
//        [--FIELD VALUE ...]
//
// GRID is a grid file (grids/demo.ts; the format is in run/benchmark/grid.ts and the README). Every cell is a run
// directory OUT/cells/<data>_<model>_<method>_s<seed>/; a finished cell is skipped, a killed one resumes from its
// latest checkpoint, so rerunning the same command completes only what is missing. --help shows the array-job
// (Slurm, Kubernetes Indexed Job) and mpirun recipes.
import { isMain, runCommand } from '../run/command.ts';
import { benchmarkCommand, usageError } from '../run/benchmark/benchmark-cli.ts';
import { runBenchmark } from '../run/benchmark/run-benchmark.ts';

if (isMain(import.meta))
  await runCommand(import.meta, benchmarkCommand, ({ args, signal }) =>
    runBenchmark(args, {
      log: (line) => process.stderr.write(`${line}\n`),
      stop: signal,
      script: process.argv[1],
      argv: process.argv.slice(2),
    }).catch((err) => usageError(args.gridFile, err)),
  );
