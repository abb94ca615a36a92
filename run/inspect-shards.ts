// Summarise webdataset shards: {"shards": N, "samples": N, "extensions": {"jpg": N, ...}, "bytes": N,
// "errors": [{shard, offset, message}], "keys"?: [...]}. Bad shards are reported in `errors` (and counted), never
// fatal unless `strict`. The command line is pipelines/inspect-shards.ts.
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
