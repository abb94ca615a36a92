// Entry point: retrieval (the command, its flags and --help text are in run/eval/retrieval-command.ts).
import { isMain, runCommand } from '../run/command.ts';
import { retrievalCommand, retrievalSpec } from '../run/eval/retrieval-command.ts';

export const command = retrievalSpec;
if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args, signal }) => {
    await retrievalCommand(args, signal);
  });
