// Entry point: linear-probe (usage and behaviour in run/eval/linear-probe-command.ts; `--help` prints them).
import { shutdownBackend } from '../src/backend.ts';
import { runCli } from '../run/eval-cli.ts';
import { linearProbeCommand, linearProbeUsage } from '../run/eval/linear-probe-command.ts';

if (process.argv.includes('--help')) console.log(linearProbeUsage);
else await runCli('linear-probe', () => linearProbeCommand(process.argv.slice(2)), shutdownBackend);
