// The final step of a benchmark: reads every finished cell of the grid (cell.json) and writes OUT/results.csv,
// OUT/results.md, OUT/index.html and OUT/plots/*.svg. It depends only on what is on disk, so it runs the same
// after one process did every cell, after N array-job slices, or after a killed run was completed.
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../src/train/atomic-write.ts';
import type { ExpandedGrid } from './expand-grid.ts';
import { readCellRecord, type CellRecord } from './run-cell.ts';
import { resultsCsv } from './results-csv.ts';
import { summarize, type Summary } from './summarize.ts';
import { writeResultPlots } from './results-plots.ts';
import { writeResultsReport } from './results-report.ts';

export interface Aggregate {
  summary: Summary;
  csv: string;
  md: string;
  html: string;
}

/**
 * `dir` (default OUT) receives the table; a directory other than OUT (`--publish`, e.g. docs/) gets the same files
 * without the links to the cells' run reports, which stay in OUT.
 */
export async function aggregate(grid: ExpandedGrid, dir = grid.out): Promise<Aggregate> {
  const records = new Map<string, CellRecord>();
  for (const cell of grid.cells) {
    const r = await readCellRecord(cell.declaration.logging.out);
    if (r) records.set(cell.key, r);
  }
  const summary = summarize(grid, records);
  const csv = join(dir, 'results.csv');
  await writeFileAtomic(csv, Buffer.from(resultsCsv(summary.finished.flatMap((r) => r.results))));
  const plots = await writeResultPlots(summary, dir);
  const { md, html } = await writeResultsReport(summary, plots, dir, { cellLinks: resolve(dir) === resolve(grid.out) });
  return { summary, csv, md, html };
}
