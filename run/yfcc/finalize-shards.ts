// The last step of the YFCC shards job: sizes.json ({"NNNNN.tar": samples} of the final slices) and report.json
// from every slice's _stats.json, and the summary printed at the end. Slices that are not final (a rerun retries
// them) are listed with their reason and left out of sizes.json.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SliceStats } from '../../stages/yfcc/write-slice-shards.ts';

export interface ShardsSummary {
  shards: number;
  slices: number;
  count: number;
  successes: number;
  failed_to_download: number;
  failed_to_validate: number;
  near_duplicates: number;
  retryable_failures: number;
  status_dict: Record<string, number>;
  /** Slices that are not final, with the reason. */
  incomplete: Array<{ shard: string; reason: string }>;
}

/** Write sizes.json ({"NNNNN.tar": samples} for every non-empty final shard) and report.json from the stats files. */
export async function finalizeShards(out: string): Promise<ShardsSummary> {
  const names = (await readdir(out)).filter((n) => /^\d+_stats\.json$/.test(n)).sort();
  const sizes: Record<string, number> = {};
  const summary: ShardsSummary = {
    shards: 0,
    slices: names.length,
    count: 0,
    successes: 0,
    failed_to_download: 0,
    failed_to_validate: 0,
    near_duplicates: 0,
    retryable_failures: 0,
    status_dict: {},
    incomplete: [],
  };
  for (const name of names) {
    const s = JSON.parse(await readFile(join(out, name), 'utf8')) as SliceStats;
    const shard = name.replace('_stats.json', '');
    if (s.final !== true)
      summary.incomplete.push({ shard, reason: s.incomplete_reason ?? 'written by an earlier version: redo it' });
    else if (s.successes > 0) {
      sizes[name.replace('_stats.json', '.tar')] = s.successes;
      summary.shards++;
    }
    summary.count += s.count;
    summary.successes += s.successes;
    summary.failed_to_download += s.failed_to_download;
    summary.failed_to_validate += s.failed_to_validate;
    summary.near_duplicates += s.near_duplicates;
    summary.retryable_failures += s.retryable_failures ?? 0;
    for (const [k, v] of Object.entries(s.status_dict)) summary.status_dict[k] = (summary.status_dict[k] ?? 0) + v;
  }
  await writeFile(join(out, 'sizes.json'), JSON.stringify(sizes, null, 1));
  await writeFile(join(out, 'report.json'), JSON.stringify(summary, null, 1));
  return summary;
}

export function formatShardsSummary(s: ShardsSummary): string {
  const lines = [
    `slices ${s.slices}, shards ${s.shards}, rows ${s.count}, written ${s.successes}`,
    `failed_to_download ${s.failed_to_download}, failed_to_validate ${s.failed_to_validate}, near_duplicates ${s.near_duplicates}`,
    ...Object.entries(s.status_dict)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => `  ${String(v).padStart(8)}  ${k}`),
    ...(s.incomplete.length
      ? [
          `incomplete slices ${s.incomplete.length} (not in sizes.json; a rerun retries them):`,
          ...s.incomplete.slice(0, 10).map((i) => `  ${i.shard}: ${i.reason}`),
          ...(s.incomplete.length > 10 ? [`  ... and ${s.incomplete.length - 10} more (report.json lists all)`] : []),
        ]
      : []),
  ];
  return lines.join('\n');
}
