// Entry point: embed (usage and behaviour in run/eval/embed-command.ts; `--help` prints them).
import { shutdownBackend } from '../src/backend.ts';
import { runCli } from '../run/eval-cli.ts';
import { embedCommand, embedUsage } from '../run/eval/embed-command.ts';

if (process.argv.includes('--help')) console.log(embedUsage);
else await runCli('embed', () => embedCommand(process.argv.slice(2)), shutdownBackend);
