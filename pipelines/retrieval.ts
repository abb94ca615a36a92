// Entry point: retrieval (usage and behaviour in run/eval/retrieval-command.ts; `--help` prints them).
import { shutdownBackend } from '../src/backend.ts';
import { runCli } from '../run/eval-cli.ts';
import { retrievalCommand, retrievalUsage } from '../run/eval/retrieval-command.ts';

if (process.argv.includes('--help')) console.log(retrievalUsage);
else await runCli('retrieval', () => retrievalCommand(process.argv.slice(2)), shutdownBackend);
