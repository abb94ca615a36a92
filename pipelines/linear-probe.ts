// Entry point: linear-probe (the command, its flags and --help text are in run/eval/linear-probe-command.ts).
import { isMain, runCommand } from '../run/command.ts';
import { linearProbeCommand, linearProbeSpec } from '../run/eval/linear-probe-command.ts';

export const command = linearProbeSpec;
if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args, signal }) => {
    await linearProbeCommand(args, signal);
  });
