// Entry point: zero-shot (the command, its flags and --help text are in run/eval/zero-shot-command.ts).
import { isMain, runCommand } from '../run/command.ts';
import { zeroShotCommand, zeroShotSpec } from '../run/eval/zero-shot-command.ts';

export const command = zeroShotSpec;
if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args, signal }) => {
    await zeroShotCommand(args, signal);
  });
