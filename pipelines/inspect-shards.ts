// Summarise webdataset shards as one JSON object (run/inspect-shards.ts); counters on stderr.
//   node pipelines/inspect-shards.ts SPEC... [--keys N] [--strict] [--timeout MS] [--retries N]
import { isMain, runCommand, UsageError, type CommandSpec } from '../run/command.ts';
import { inspectShards } from '../run/inspect-shards.ts';
import { createContext } from '../stages/core/stage.ts';

export const command = {
  usage: 'SPEC... [--keys N] [--strict] [--timeout MS] [--retries N]',
  about:
    'Summarises webdataset shards as one JSON object on stdout: {shards, samples, extensions, bytes, errors, keys?}.\n' +
    'SPEC: brace patterns and `::` lists of local paths, http(s) URLs or pipe:COMMAND. Bad shards are listed in errors\n' +
    '(and counted, counters on stderr), never fatal unless --strict.',
  options: {
    keys: { type: 'string', arg: 'N', help: 'also list the first N sample keys' },
    strict: { type: 'boolean', help: 'fail on the first bad shard, naming it and the byte offset' },
    timeout: { type: 'string', arg: 'MS', help: 'http(s): timeout per request' },
    retries: { type: 'string', arg: 'N', help: 'http(s): retries with backoff' },
  },
  positionals: true,
} satisfies CommandSpec;

if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args: { values, positionals }, signal }) => {
    if (positionals.length === 0) throw new UsageError('give at least one shard SPEC (see --help)');
    const keys = values.keys === undefined ? undefined : Number(values.keys);
    if (keys !== undefined && !(Number.isInteger(keys) && keys >= 0))
      throw new UsageError(`--keys must be an integer >= 0, got "${values.keys}"`);
    const ctx = createContext({ signal });
    const http = {
      timeoutMs: values.timeout ? Number(values.timeout) : undefined,
      retries: values.retries ? Number(values.retries) : undefined,
    };
    try {
      const summary = await inspectShards(positionals, { keys, strict: values.strict === true, ctx, http });
      process.stdout.write(JSON.stringify(summary) + '\n');
    } finally {
      process.stderr.write(ctx.counters.format() + '\n');
    }
  });
