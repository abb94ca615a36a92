// YFCC100M metadata -> clean caption table (JSON lines), with a per-stage report; `--help` lists every flag and how
// to split the job over processes, Slurm array tasks or Kubernetes indexed jobs. The job is run/yfcc/filter-cli.ts.
import { fileURLToPath } from 'node:url';
import { runCommand } from '../run/yfcc/cli-help.ts';
import { yfccFilter } from '../run/yfcc/filter-cli.ts';

await runCommand('yfcc15m-filter', () => yfccFilter(process.argv.slice(2), fileURLToPath(import.meta.url)));
