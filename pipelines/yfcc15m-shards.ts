// Clean caption table + images -> webdataset shards, img2dataset-style; `--help` lists every flag and how to split
// the job over processes, Slurm array tasks or Kubernetes indexed jobs. The job is run/yfcc/shards-cli.ts.
import { fileURLToPath } from 'node:url';
import { isMain, runCommand } from '../run/command.ts';
import { shardsCommand, yfccShards } from '../run/yfcc/shards-cli.ts';

if (isMain(import.meta))
  await runCommand(import.meta, shardsCommand, (input) => yfccShards(input, fileURLToPath(import.meta.url)));
