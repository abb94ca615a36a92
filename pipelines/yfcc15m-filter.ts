// YFCC100M metadata -> clean caption table (JSON lines), with a per-stage report; `--help` lists every flag and how
// to split the job over processes, Slurm array tasks or Kubernetes indexed jobs. The job is run/yfcc/filter-cli.ts.
import { fileURLToPath } from 'node:url';
import { isMain, runCommand } from '../run/command.ts';
import { filterCommand, yfccFilter } from '../run/yfcc/filter-cli.ts';

if (isMain(import.meta))
  await runCommand(import.meta, filterCommand, (input) => yfccFilter(input, fileURLToPath(import.meta.url)));
