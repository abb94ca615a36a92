// Summarise webdataset shards: prints one JSON object
//   {"shards": N, "samples": N, "extensions": {"jpg": N, ...}, "bytes": N, "errors": [{shard, offset, message}], "keys"?: [...]}
// Bad shards are reported in `errors` (and counted), never fatal unless --strict. Counters go to stderr.
//   node pipelines/inspect-shards.ts SPEC... [--keys N] [--strict] [--timeout MS] [--retries N]
//   SPEC: brace patterns and `::` lists of local paths, http(s) URLs or pipe:COMMAND, e.g. 'data/train-{000000..000003}.tar'
import { isMain, runCommand, UsageError, type CommandSpec } from '../run/command.ts';
import { createContext, type StageContext } from '../stages/core/stage.ts';
import { readShards } from '../stages/webdataset/read-shards.ts';
import type { OpenShardOptions } from '../stages/webdataset/open-shard.ts';
import { expandShardSpec } from '../src/webdataset/shard-spec.ts';

export interface ShardSummary {
  shards: number;
  samples: number;
  extensions: Record<string, number>;
  bytes: number;
  errors: Array<{ shard: string; offset: number; message: string }>;
  keys?: string[];
}

export async function inspectShards(
  specs: string[],
  options: { keys?: number; strict?: boolean; ctx?: StageContext; http?: Omit<OpenShardOptions, 'signal'> } = {},
): Promise<ShardSummary> {
  const ctx = options.ctx ?? createContext();
  const urls = expandShardSpec(specs);
  const summary: ShardSummary = { shards: urls.length, samples: 0, extensions: {}, bytes: 0, errors: [] };
  const keys: string[] = [];
  const reader = readShards({
    shards: urls,
    ctx,
    strict: options.strict,
    http: options.http,
    onShardDone: (report) => {
      summary.bytes += report.bytes;
      for (const e of report.errors) summary.errors.push({ shard: e.url, offset: e.offset, message: e.message });
    },
  });
  for await (const sample of reader) {
    summary.samples++;
    for (const ext of Object.keys(sample))
      if (!ext.startsWith('__')) summary.extensions[ext] = (summary.extensions[ext] ?? 0) + 1;
    if (options.keys !== undefined && keys.length < options.keys) keys.push(sample.__key__);
  }
  summary.extensions = Object.fromEntries(Object.entries(summary.extensions).sort(([a], [b]) => (a < b ? -1 : 1)));
  if (options.keys !== undefined) summary.keys = keys;
  return summary;
}

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
