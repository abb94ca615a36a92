// Clean caption table + images -> webdataset shards, img2dataset-style; `--help` lists every flag and how to split
// the job over processes, Slurm array tasks or Kubernetes indexed jobs. The job is run/yfcc/shards-cli.ts.
import { fileURLToPath } from 'node:url';
import { runCommand } from '../run/yfcc/cli-help.ts';
import { yfccShards } from '../run/yfcc/shards-cli.ts';

await runCommand('yfcc15m-shards', () => yfccShards(process.argv.slice(2), fileURLToPath(import.meta.url)));
