// Results in CLIP_benchmark's shape: one JSON object per dataset x model x task,
//   {"dataset", "model", "pretrained", "task", "metrics": {...}, "language"}
// written as "{dataset}_{pretrained}_{model}_{language}_{task}.json", plus a plain-text table for the terminal.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type EvalTask = 'zeroshot_classification' | 'zeroshot_retrieval' | 'linear_probe';

export interface BenchmarkResult {
  dataset: string;
  model: string;
  pretrained: string;
  task: EvalTask;
  metrics: Record<string, number>;
  language: string;
  [extra: string]: unknown;
}

export function resultFileName(r: BenchmarkResult): string {
  const safe = (s: string) => s.replace(/[\/\s]+/g, '-');
  return `${safe(r.dataset)}_${safe(r.pretrained)}_${safe(r.model)}_${r.language}_${r.task}.json`;
}

/** JSON with NaN written as NaN like Python's json module does (CLIP_benchmark's acc5 with < 5 classes). */
export function resultJson(r: BenchmarkResult): string {
  return (
    JSON.stringify(r, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? '__NaN__' : v), 2).replaceAll(
      '"__NaN__"',
      'NaN',
    ) + '\n'
  );
}

export async function writeResult(dir: string, r: BenchmarkResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, resultFileName(r));
  await writeFile(path, resultJson(r));
  return path;
}

/** A fixed-width table: one row per result, one column per metric. */
export function formatResultsTable(results: BenchmarkResult[]): string {
  const metricNames = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))];
  const header = ['dataset', 'model', 'task', ...metricNames];
  const rows = results.map((r) => [
    r.dataset,
    r.model,
    r.task,
    ...metricNames.map((m) => (m in r.metrics ? formatNumber(r.metrics[m]) : '')),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function formatNumber(v: number): string {
  return Number.isNaN(v) ? 'nan' : Number.isInteger(v) ? String(v) : v.toFixed(4);
}
