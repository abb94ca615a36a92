// Merge the finished parts of the YFCC filter job: rows in input order -> exact dedup -> yfcc15m.jsonl + report.json.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createContext, runStages, type StageContext } from '../../stages/core/stage.ts';
import { Counters } from '../../src/counters.ts';
import { exactDedup } from '../../stages/yfcc/exact-dedup.ts';
import { progress } from '../../stages/core/progress.ts';
import { writeJsonl } from '../../stages/yfcc/write-jsonl.ts';
import { readJsonl } from '../../stages/yfcc/read-jsonl.ts';
import { buildReport, sumCounters, type YfccReport } from '../../src/yfcc/report.ts';
import { CLEAN_VERSION } from '../../src/yfcc/clean-yfcc-text.ts';
import type { TableRow } from '../../src/yfcc/record.ts';
import { FILTER_STAGES, partPaths, readPartFile, type FilterOptions, type PartFile } from './filter-part.ts';
import { recipeDifference, type Recipe } from '../../src/yfcc/recipe.ts';
import { removeStaleTempFiles } from './stale-temp-files.ts';

/** Yield the rows of all parts merged by input position (each part file is already in input order). */
async function* mergeByPosition(paths: string[], ctx: StageContext): AsyncGenerator<TableRow> {
  const iters = paths.map((path) => readJsonl({ path }, ctx)[Symbol.asyncIterator]() as AsyncIterator<TableRow>);
  const heads = await Promise.all(iters.map((it) => it.next()));
  while (true) {
    let best = -1;
    for (let i = 0; i < heads.length; i++)
      if (!heads[i].done && (best < 0 || heads[i].value.pos < heads[best].value.pos)) best = i;
    if (best < 0) return;
    yield heads[best].value;
    heads[best] = await iters[best].next();
  }
}

/** Merge N finished parts: dedup in input order -> yfcc15m.jsonl + report.json. */
export async function mergeParts(
  options: FilterOptions,
  parts: number,
  ctx: StageContext = createContext(),
): Promise<YfccReport> {
  const all = Array.from({ length: parts }, (_, index) => partPaths(options.out, { index, count: parts }));
  const missing = all.filter((p) => !existsSync(p.counters)).map((p) => p.counters);
  if (missing.length)
    throw new Error(`cannot merge, ${missing.length} of ${parts} parts are not finished (first: ${missing[0]})`);
  const partFiles = await Promise.all(all.map((p) => readPartFile(p.counters)));
  // Every part must come from one recipe (the same inputs and settings, apart from which part it is).
  const withoutPart = (f: PartFile): Recipe | undefined =>
    f.recipe && { ...f.recipe, settings: { ...f.recipe.settings, part: undefined } };
  const first = withoutPart(partFiles[0]);
  for (const [i, f] of partFiles.entries()) {
    const difference = first ? recipeDifference(withoutPart(f), first) : recipeDifference(undefined, f.recipe!);
    if (difference)
      throw new Error(
        `cannot merge: ${all[i].counters} differs from part 0 (it was made ${difference}); rerun the parts with --force`,
      );
  }
  const partCounters = partFiles.map((f) => f.counters);
  await removeStaleTempFiles(options.out);
  const dedup = exactDedup({ capacity: options.dedupCapacity, falsePositiveRate: options.dedupFalsePositiveRate });
  const mergeCtx: StageContext = { signal: ctx.signal, counters: new Counters() };
  // Reading the part files is bookkeeping, not a filter stage: count it apart from the report.
  const readCtx: StageContext = { signal: ctx.signal, counters: new Counters() };
  const rows = await runStages(
    mergeCtx,
    mergeByPosition(
      all.map((p) => p.rows),
      readCtx,
    ),
    [progress({ label: 'yfcc merge', quiet: options.quiet }), dedup.stage],
    writeJsonl<TableRow>(join(options.out, 'yfcc15m.jsonl')),
  );
  const merged = sumCounters([...partCounters, mergeCtx.counters.toJSON()]);
  const stats = dedup.stats();
  const report = buildReport(merged, FILTER_STAGES, {
    rows: rows,
    parts,
    'dedup memory (bytes)': stats.bytes,
    'dedup expected false-positive rate (photo hash / caption+url)': `${stats.hashFilterRate.toExponential(2)} / ${stats.captionFilterRate.toExponential(2)}`,
    ...(merged['yfcc.subset-list.keys']
      ? {
          'subset list keys': merged['yfcc.subset-list.keys'],
          'subset keys not found in metadata':
            merged['yfcc.subset-list.keys'] -
            (merged['yfcc.subset.out'] ?? 0) -
            (merged['yfcc.subset.drop.hash-mismatch'] ?? 0),
        }
      : {}),
  });
  report.cleanVersion = String(first?.settings.cleanVersion ?? CLEAN_VERSION);
  if (options.expectRows !== undefined && (merged['yfcc.read.out'] ?? 0) !== options.expectRows) {
    throw new Error(
      `expected ${options.expectRows} metadata rows, read ${merged['yfcc.read.out'] ?? 0} (incomplete download or wrong file?)`,
    );
  }
  await writeFile(
    join(options.out, 'report.json'),
    JSON.stringify({ ...report, recipe: first, counters: merged }, null, 1),
  );
  return report;
}
