// Entry point: embed (the command, its flags and --help text are in run/eval/embed-command.ts).
import { isMain, runCommand } from '../run/command.ts';
import { embedCommand, embedSpec } from '../run/eval/embed-command.ts';

export const command = embedSpec;
if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args, signal }) => {
    await embedCommand(args, signal);
  });
