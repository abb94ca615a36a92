// The benchmark command: load a grid file, expand and check it, run the selected cells one after another (each
// resumable: finished cells are skipped, a killed one continues from its checkpoint), then aggregate the table.
//   GRID [--out DIR] [--cell i/N] [--only AXIS=V[,V]]... [--aggregate-only] [--list] [--FIELD VALUE]...
// `--cell i/N` runs one interleaved slice and does not aggregate (other slices may still run): a final
// `--aggregate-only` merges. Under mpirun/srun every rank runs the same cells data-parallel; rank 0 evaluates and
// writes. Any other --field value (e.g. --steps 20, --backend cpu) is applied to every cell; the axes' fields are not.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend } from '../../src/backend.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import { getCollective, type Collective } from '../../src/distributed/collective.ts';
import { writeFileAtomic } from '../../src/train/atomic-write.ts';
import { latestCheckpoint } from '../../src/train/checkpoint-format.ts';

import { createImagePool, type ImagePool } from '../../stages/image/decode-views.ts';
import { NoDataError, TrainingHalt } from '../../src/train/halt.ts';
import { parseArgs as parseFieldArgs, applyOverrides } from '../cli.ts';
import { DeclarationError } from '../validate.ts';
import { declaredModelConfig } from '../model-config.ts';
import { validateEvalSuite } from '../eval/validate-eval-suite.ts';
import { formatDuration } from '../report/html.ts';
import { expandGrid, parseSlice, selectCells, GridError, type ExpandedGrid, type GridCell } from './expand-grid.ts';
import { runCell, readCellRecord } from './run-cell.ts';
import { aggregate } from './aggregate.ts';
import { mainValue } from './summarize.ts';
import type { GridDeclaration } from './grid.ts';
import { runSlicesInProcesses, sliceArgs, stopWhenParentDies } from './slice-processes.ts';

export interface BenchmarkArgs {
  gridFile: string;
  out?: string;
  slice?: { index: number; count: number };
  /** Run the slices as this many child processes on this machine, then aggregate. */
  parallel: number;
  only: string[];
  aggregateOnly: boolean;
  /** Also write the table (CSV, Markdown, HTML, plots; no cell links) into this directory, e.g. docs/. */
  publish?: string;
  list: boolean;
  overrides: Array<[string, unknown]>;
}

/** Fields the grid's axes own: a flag may not change them for every cell at once. */
const AXIS_FIELDS = /^(supervision\.|model\.|seed$|name$|logging\.out$|checkpoint\.resume$)/;

export function parseBenchmarkArgs(argv: string[]): BenchmarkArgs {
  const a: BenchmarkArgs = { gridFile: '', parallel: 1, only: [], aggregateOnly: false, list: false, overrides: [] };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const take = () => {
      if (eq > 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new GridError('', `${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--aggregate-only') a.aggregateOnly = true;
    else if (flag === '--list') a.list = true;
    else if (flag === '--out') a.out = take();
    else if (flag === '--publish') a.publish = take();
    else if (flag === '--cell') a.slice = parseSlice(take());
    else if (flag === '--only') a.only.push(take());
    else if (flag === '--parallel') {
      const v = take();
      a.parallel = Number(v);
      if (!(Number.isInteger(a.parallel) && a.parallel >= 1))
        throw new GridError('', `--parallel must be a number of processes >= 1, got ${JSON.stringify(v)}`);
    } else if (!arg.startsWith('-') && !a.gridFile) a.gridFile = arg;
    else rest.push(arg);
  }
  if (!a.gridFile) throw new GridError('', 'no grid file given (see --help)');
  if (a.parallel > 1 && a.slice)
    throw new GridError('', '--parallel runs every slice itself: give either --parallel P or --cell i/N');
  const fields = parseFieldArgs(rest);
  for (const [path] of fields.overrides)
    if (AXIS_FIELDS.test(path))
      throw new GridError('', `--${path}: set by the grid's axes, not for every cell at once (edit the grid file)`);
  a.overrides = fields.overrides;
  return a;
}

export async function loadGrid(file: string): Promise<GridDeclaration> {
  const path = resolve(file);
  if (!existsSync(path)) throw new GridError('', `grid file ${file} not found`);
  const mod = await import(pathToFileURL(path).href);
  const grid = mod.default ?? mod.grid;
  if (!grid) throw new GridError('', `${file} has no default export (export default defineGrid({...}))`);
  return grid as GridDeclaration;
}

/** Checks what the declaration schema cannot (method options, model fields, the suite's files) before any training. */
async function preflight(grid: ExpandedGrid, cells: GridCell[]): Promise<void> {
  try {
    await validateEvalSuite(grid.suite);
  } catch (err) {
    throw new GridError('suite', (err as Error).message);
  }
  for (const c of cells) {
    const d = c.declaration;
    try {
      createSupervision(d.supervision.name, d.supervision.options).dispose();
    } catch (err) {
      throw new GridError(`axes.supervision.${c.axes.supervision}`, (err as Error).message);
    }
    try {
      declaredModelConfig(d, 49408);
    } catch (err) {
      throw new GridError(`axes.model.${c.axes.model}`, (err as Error).message);
    }
  }
}

export function expandWithOverrides(grid: GridDeclaration, args: BenchmarkArgs): ExpandedGrid {
  const g = expandGrid(grid, args.out);
  if (args.overrides.length === 0) return g;
  return { ...g, cells: g.cells.map((c) => ({ ...c, declaration: applyOverrides(c.declaration, args.overrides) })) };
}

export async function cellStatus(c: GridCell): Promise<string> {
  if (await readCellRecord(c.declaration.logging.out)) return 'done';
  const latest = await latestCheckpoint(join(c.declaration.logging.out, 'checkpoints'));
  return latest ? `partial (${latest.split('/').at(-1)})` : existsSync(c.declaration.logging.out) ? 'started' : 'new';
}

export interface BenchmarkIo {
  log: (line: string) => void;
  collective?: Collective;
  /** Stop request (SIGINT/SIGTERM): the running cell saves a checkpoint and the command returns. */
  stop?: AbortSignal;
  /** The command's script and arguments (--parallel starts the slices with them). */
  script?: string;
  argv?: string[];
}

/** Runs the command; returns the exit code (0 done, 1 a cell failed, 3 aggregate incomplete, 130 stopped). */
export async function runBenchmark(args: BenchmarkArgs, io: BenchmarkIo): Promise<number> {
  const grid = expandWithOverrides(await loadGrid(args.gridFile), args);
  const selected = selectCells(grid, { only: args.only, slice: args.slice });
  const world = io.collective ?? getCollective();
  const lead = world.rank === 0;
  const log = lead ? io.log : () => {};
  if (args.list) {
    for (const c of selected) log(`${String(c.index).padStart(4)}  ${c.key.padEnd(40)} ${await cellStatus(c)}`);
    return 0;
  }
  if (args.aggregateOnly) {
    if (!lead) return 0;
    return (await aggregateAndReport(grid, log, args.publish)) ? 3 : 0;
  }
  await preflight(grid, selected);
  if (args.parallel > 1) return runParallel(args, grid, io);
  stopWhenParentDies();
  const base = grid.cells[0].declaration;
  await initBackend({ backend: base.backend.name, threads: base.backend.threads || undefined, quiet: true });
  if (lead) await writeGridJson(grid);
  log(
    `[benchmark ${grid.name}] ${selected.length} of ${grid.cells.length} cells` +
      (args.slice ? ` (slice ${args.slice.index}/${args.slice.count}, pid ${process.pid})` : '') +
      (world.size > 1 ? `, ${world.size} ranks each` : '') +
      ` -> ${grid.out}`,
  );
  const pool = createImagePool();
  let failed: string[];
  try {
    const r = await runCells(grid, selected, { ...io, log, world, lead, pool });
    if (r === 'stopped') return 130;
    failed = r;
  } finally {
    await pool.close();
  }
  if (failed.length) log(`[benchmark] ${failed.length} cell(s) failed: ${failed.join(', ')}`);
  if (args.slice)
    log(
      '[benchmark] slice done; when every slice is done: ' +
        `node pipelines/benchmark.ts ${args.gridFile} --out ${grid.out} --aggregate-only`,
    );
  else if (lead) await aggregateAndReport(grid, log, args.publish);
  return failed.length ? 1 : 0;
}

async function runParallel(args: BenchmarkArgs, grid: ExpandedGrid, io: BenchmarkIo): Promise<number> {
  if (!io.script || !io.argv) throw new Error('--parallel: the command line to start the slices with is unknown');
  io.log(`[benchmark ${grid.name}] ${args.parallel} slices in parallel processes -> ${grid.out}`);
  const codes = await runSlicesInProcesses({
    script: io.script,
    argv: sliceArgs(io.argv),
    parallel: args.parallel,
    log: io.log,
    stop: io.stop,
  });
  if (io.stop?.aborted) return 130;
  const failed = codes.map((c, i) => [c, i]).filter(([c]) => c !== 0);
  if (failed.length)
    io.log(`[benchmark] ${failed.map(([c, i]) => `slice ${i}/${args.parallel} exited with ${c}`).join('; ')}`);
  await aggregateAndReport(grid, io.log, args.publish);
  return failed.length ? 1 : 0;
}

async function writeGridJson(grid: ExpandedGrid): Promise<void> {
  const json = {
    name: grid.name,
    values: grid.values,
    seeds: grid.seeds,
    baseline: grid.baseline,
    cells: grid.cells.map((c) => ({ key: c.key, index: c.index, axes: c.axes })),
  };
  await writeFileAtomic(join(grid.out, 'grid.json'), Buffer.from(JSON.stringify(json, null, 1) + '\n'));
}

/** Runs the cells in order; returns the keys of the cells that failed, or 'stopped' on a stop request. */
async function runCells(
  grid: ExpandedGrid,
  selected: GridCell[],
  io: BenchmarkIo & { world: Collective; lead: boolean; pool: ImagePool },
): Promise<string[] | 'stopped'> {
  const { log, world, lead } = io;
  const stop = io.stop ?? new AbortController().signal;
  const prepared = new Map<string, Promise<void>>();
  const failed: string[] = [];
  const started = performance.now();
  for (const [i, cell] of selected.entries()) {
    const n = `${i + 1}/${selected.length}`;
    const t0 = performance.now();
    try {
      if (cell.prepare) {
        if (!prepared.has(cell.axes.data)) prepared.set(cell.axes.data, cell.prepare());
        await prepared.get(cell.axes.data);
      }
      const outcome = await runCell(cell, {
        suite: grid.suite,
        cacheDir: join(grid.out, 'cache'),
        pool: io.pool,
        log,
        stop,
        collective: world,
        lead,
      });
      if (outcome.status === 'stopped') {
        log(`[benchmark] ${n} ${cell.key}: stopped; run the same command again to continue`);
        return 'stopped';
      }
      if (outcome.status === 'skipped') log(`[benchmark] ${n} ${cell.key}: already finished, skipped`);
      else {
        const final = outcome.record?.results.filter((r) => r.step === outcome.record!.steps) ?? [];
        const scores = final.map((r) => `${r.dataset} ${(100 * mainValue(r)).toFixed(1)}%`).join(', ');
        log(
          `[benchmark] ${n} ${cell.key}: done in ${formatDuration(performance.now() - t0)}` +
            (scores ? ` — ${scores}` : ''),
        );
      }
    } catch (err) {
      if (err instanceof NoDataError || err instanceof GridError || err instanceof DeclarationError) throw err;
      if (stop.aborted) return 'stopped';
      const message = (err as Error)?.message?.split('\n')[0] ?? String(err);
      log(`[benchmark] ${n} ${cell.key}: FAILED: ${message}${err instanceof TrainingHalt ? '' : ' (rerun to retry)'}`);
      failed.push(cell.key);
      if (world.size > 1) throw err; // the other ranks cannot tell where this rank stopped
    }
    if (world.size > 1) world.barrier();
    if (stop.aborted) return 'stopped';
  }
  log(`[benchmark] this process: ${formatDuration(performance.now() - started)}`);
  return failed;
}

/** Writes the table from the finished cells; returns how many cells are missing. */
async function aggregateAndReport(grid: ExpandedGrid, log: (line: string) => void, publish?: string): Promise<number> {
  const a = await aggregate(grid);
  if (publish) {
    await mkdir(publish, { recursive: true });
    const p = await aggregate(grid, publish);
    log(`[benchmark] published the table: ${p.csv}, ${p.md}, ${p.html}`);
  }
  const s = a.summary;
  if (s.missing.length)
    log(
      `[benchmark] INCOMPLETE: ${s.missing.length} of ${grid.cells.length} cells not finished ` +
        `(${s.missing.slice(0, 8).join(', ')}${s.missing.length > 8 ? ', …' : ''})`,
    );
  log(`[benchmark] ${s.finished.length} cells -> ${a.csv}, ${a.md}, ${a.html}`);
  return s.missing.length;
}
