// What a stand-alone evaluation command prints after writing its result: the metrics table, where it wrote, and
// what the evaluation left out (skipped images, dropped caption rows), each named.
import { formatResultsTable, type BenchmarkResult } from '../../src/eval/results.ts';
import type { SkippedImagesReport } from '../../src/eval/skipped-images.ts';
import type { DroppedRows } from '../../src/eval/datasets/types.ts';

export function describeRecord(record: BenchmarkResult, written: string, counts: string): string {
  const lines = [formatResultsTable([record]), `(wrote ${written}; ${counts})`];
  const skipped = record.skipped_images as SkippedImagesReport | undefined;
  if (skipped?.count)
    lines.push(
      `skipped ${skipped.count} image(s) (${Object.entries(skipped.reasons)
        .map(([r, n]) => `${r} ${n}`)
        .join(', ')}):`,
      ...skipped.examples.map((e) => `  ${e}`),
      ...(skipped.count > skipped.examples.length ? [`  ... and ${skipped.count - skipped.examples.length} more`] : []),
    );
  const dropped = record.dropped_rows as DroppedRows | undefined;
  if (dropped)
    lines.push(
      `left out of the caption table: ${Object.entries(dropped.counts)
        .map(([r, n]) => `${n} ${r.replaceAll('_', ' ')}`)
        .join(', ')}:`,
      ...dropped.examples.map((e) => `  ${e}`),
    );
  return lines.join('\n');
}
