// Entry point: eval-suite (the command, its flags and --help text are in run/eval/eval-suite-command.ts).
import { isMain, runCommand } from '../run/command.ts';
import { evalSuiteCommand, evalSuiteSpec } from '../run/eval/eval-suite-command.ts';

export const command = evalSuiteSpec;
if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args, signal }) => {
    await evalSuiteCommand(args, signal);
  });
