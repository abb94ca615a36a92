// The benchmark: trains a grid over data x supervision x model x seeds and writes the CLIP-Benchmark table.
//
//   node pipelines/benchmark.ts GRID [--out DIR] [--cell i/N] [--only AXIS=V[,V]] [--aggregate-only] [--list]
//        [--FIELD VALUE ...]
//
// GRID is a grid file (grids/demo.ts; the format is in run/benchmark/grid.ts and the README). Every cell is a run
// directory OUT/cells/<data>_<model>_<method>_s<seed>/; a finished cell is skipped, a killed one resumes from its
// latest checkpoint, so rerunning the same command completes only what is missing. The table: OUT/results.csv
// (clip_benchmark build's columns + the axes), OUT/results.md, OUT/index.html, OUT/plots/.
//
// Array jobs: each task runs one slice, then one aggregate step merges (same table as one process running all):
//   Slurm:      #SBATCH --array=0-7      node pipelines/benchmark.ts GRID --out DIR --cell $SLURM_ARRAY_TASK_ID/8
//               then (sbatch --dependency=afterok:<array job>)  node pipelines/benchmark.ts GRID --out DIR --aggregate-only
//   Kubernetes: an Indexed Job (completionMode: Indexed, completions: 8) whose pods run
//               node pipelines/benchmark.ts GRID --out DIR --cell $JOB_COMPLETION_INDEX/8   (DIR on a shared volume)
//               then one Job running the same command with --aggregate-only
// Data parallelism per cell: start the command under MPI; every rank trains each cell on its share of the batch
// and rank 0 evaluates and writes:  mpirun -np 4 node pipelines/benchmark.ts GRID --cell 0/2   (docs/distributed.md)
import { benchmarkCli } from '../run/benchmark/benchmark-cli.ts';

await benchmarkCli(process.argv.slice(2));
