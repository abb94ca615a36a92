// Entry point: eval-suite (usage and behaviour in run/eval/eval-suite-command.ts; `--help` prints them).
import { shutdownBackend } from '../src/backend.ts';
import { runCli } from '../run/eval-cli.ts';
import { evalSuiteCommand, evalSuiteUsage } from '../run/eval/eval-suite-command.ts';

if (process.argv.includes('--help')) console.log(evalSuiteUsage);
else await runCli('eval-suite', () => evalSuiteCommand(process.argv.slice(2)), shutdownBackend);
