// Entry point: zero-shot (usage and behaviour in run/eval/zero-shot-command.ts; `--help` prints them).
import { shutdownBackend } from '../src/backend.ts';
import { runCli } from '../run/eval-cli.ts';
import { zeroShotCommand, zeroShotUsage } from '../run/eval/zero-shot-command.ts';

if (process.argv.includes('--help')) console.log(zeroShotUsage);
else await runCli('zero-shot', () => zeroShotCommand(process.argv.slice(2)), shutdownBackend);
