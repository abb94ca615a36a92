// CLIP_benchmark-shaped result files kept in a run directory (a benchmark cell writes them under results/step-N/;
// any `--out RUN_DIR/results` of the evaluation commands lands there too), read back for reports.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchmarkResult } from '../../src/eval/results.ts';

async function jsonFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory()
        ? jsonFiles(join(dir, e.name))
        : Promise.resolve(e.name.endsWith('.json') ? [join(dir, e.name)] : []),
    ),
  );
  return nested.flat().sort();
}

/** Python's json writes NaN bare; read it back as NaN. */
export function parseResultJson(text: string): unknown {
  return JSON.parse(text.replace(/:\s*NaN\b/g, ': "__NaN__"'), (_k, v) => (v === '__NaN__' ? NaN : v));
}

export async function readRunResults(runDir: string): Promise<BenchmarkResult[]> {
  const out: BenchmarkResult[] = [];
  for (const file of await jsonFiles(join(runDir, 'results'))) {
    let r: any;
    try {
      r = parseResultJson(await readFile(file, 'utf8'));
    } catch {
      continue; // not a result file (or a partial one left by a kill): reports show what is readable
    }
    if (r && typeof r === 'object' && typeof r.dataset === 'string' && typeof r.task === 'string' && r.metrics)
      out.push(r as BenchmarkResult);
  }
  return out;
}
