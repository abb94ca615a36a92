// The benchmark command: load a grid file, expand and check it, run the selected cells one after another (each
// resumable: finished cells are skipped, a killed one continues from its checkpoint), then aggregate the table.
//   GRID [--out DIR] [--cell i/N] [--only AXIS=V[,V]]... [--aggregate-only] [--list] [--FIELD VALUE]...
// `--cell i/N` runs one interleaved slice and does not aggregate (other slices may still run): a final
// `--aggregate-only` merges. Under mpirun/srun every rank runs the same cells data-parallel; rank 0 writes.
// Any other --field value (e.g. --steps 20, --backend cpu) is applied to every cell; fields the axes set cannot be.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initBackend } from '../../src/backend.ts';
import { createSupervision } from '../../src/supervision/index.ts';
import { getCollective, type Collective } from '../../src/distributed/collective.ts';
import { writeFileAtomic } from '../../src/train/atomic-write.ts';
import { latestCheckpoint } from '../../src/train/checkpoint-format.ts';
import { TrainingHalt } from '../../src/train/halt.ts';
import { MissingDataError } from '../runner.ts';
import { parseArgs as parseFieldArgs, applyOverrides } from '../cli.ts';
import { DeclarationError } from '../validate.ts';
import { modelPreset } from '../model-presets.ts';
import { expandGrid, parseSlice, selectCells, GridError, type ExpandedGrid, type GridCell } from './expand-grid.ts';
import { runCell, readCellRecord } from './run-cell.ts';
import { aggregate } from './aggregate.ts';
import { formatDuration } from '../report/html.ts';
import type { GridDeclaration } from './grid.ts';

export interface BenchmarkArgs {
  gridFile: string;
  out?: string;
  slice?: { index: number; count: number };
  only: string[];
  aggregateOnly: boolean;
  list: boolean;
  help: boolean;
  overrides: Array<[string, unknown]>;
}

/** Fields the grid's axes own: a flag may not change them for every cell at once. */
const AXIS_FIELDS = /^(supervision\.|model\.|seed$|name$|logging\.out$|checkpoint\.resume$)/;

export function parseBenchmarkArgs(argv: string[]): BenchmarkArgs {
  const a: BenchmarkArgs = { gridFile: '', only: [], aggregateOnly: false, list: false, help: false, overrides: [] };
  const rest: string[] = [];
  const value = (i: number, flag: string) => {
    if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new GridError('', `${flag} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const take = () => inline ?? value(i++, flag);
    if (flag === '--help' || flag === '-h') a.help = true;
    else if (flag === '--aggregate-only') a.aggregateOnly = true;
    else if (flag === '--list') a.list = true;
    else if (flag === '--out') a.out = take();
    else if (flag === '--cell') a.slice = parseSlice(take());
    else if (flag === '--only') a.only.push(take());
    else if (!arg.startsWith('-') && !a.gridFile) a.gridFile = arg;
    else rest.push(arg);
  }
  if (!a.gridFile && !a.help)
    throw new GridError('', 'no grid file given (usage: node pipelines/benchmark.ts GRID [flags]; see --help)');
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

/** Checks what the declaration schema cannot: method options and model presets, for every selected cell. */
function preflight(cells: GridCell[]): void {
  for (const c of cells) {
    const d = c.declaration;
    try {
      createSupervision(d.supervision.name, d.supervision.options).dispose();
    } catch (err) {
      throw new GridError(`axes.supervision.${c.axes.supervision}`, (err as Error).message);
    }
    try {
      modelPreset(d.model.preset);
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
  /** Stop request (the CLI wires SIGINT/SIGTERM to it). */
  stop?: AbortSignal;
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
  if (!args.aggregateOnly) {
    preflight(selected);
    const base = grid.cells[0].declaration;
    await initBackend({ backend: base.backend.name, threads: base.backend.threads || undefined, quiet: true });
    if (lead)
      await writeFileAtomic(
        join(grid.out, 'grid.json'),
        Buffer.from(
          JSON.stringify(
            {
              name: grid.name,
              values: grid.values,
              seeds: grid.seeds,
              baseline: grid.baseline,
              cells: grid.cells.map((c) => ({ key: c.key, index: c.index, axes: c.axes })),
            },
            null,
            1,
          ) + '\n',
        ),
      );
    log(
      `[benchmark ${grid.name}] ${selected.length} of ${grid.cells.length} cells` +
        (args.slice ? ` (slice ${args.slice.index}/${args.slice.count})` : '') +
        (world.size > 1 ? `, ${world.size} ranks each` : '') +
        ` -> ${grid.out}`,
    );
    const prepared = new Map<string, Promise<void>>();
    const failed: string[] = [];
    const started = performance.now();
    for (const [i, cell] of selected.entries()) {
      if (io.stop?.aborted) break;
      const t0 = performance.now();
      try {
        if (cell.prepare) {
          if (!prepared.has(cell.axes.data)) prepared.set(cell.axes.data, cell.prepare());
          await prepared.get(cell.axes.data);
        }
        const outcome = await runCell(cell, {
          suite: grid.suite,
          cacheDir: join(grid.out, 'cache'),
          log,
          stop: io.stop ?? new AbortController().signal,
          collective: world,
          lead,
        });
        const n = `${i + 1}/${selected.length}`;
        if (outcome.status === 'stopped') {
          log(`[benchmark] ${n} ${cell.key}: stopped; run the same command again to continue`);
          return 130;
        }
        if (outcome.status === 'skipped') log(`[benchmark] ${n} ${cell.key}: already finished, skipped`);
        else {
          const main = outcome.record?.results.filter((r) => r.step === outcome.record!.steps) ?? [];
          log(
            `[benchmark] ${n} ${cell.key}: done in ${formatDuration(performance.now() - t0)}` +
              (main.length
                ? ` — ${main
                    .map(
                      (r) =>
                        `${r.dataset} ${Object.entries(r.metrics)
                          .slice(0, 1)
                          .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`)}`,
                    )
                    .join(', ')}`
                : ''),
          );
        }
      } catch (err) {
        if (err instanceof MissingDataError || err instanceof GridError || err instanceof DeclarationError) throw err;
        const message = (err as Error)?.message?.split('\n')[0] ?? String(err);
        log(`[benchmark] ${cell.key}: FAILED: ${message}${err instanceof TrainingHalt ? '' : ' (rerun to retry)'}`);
        failed.push(cell.key);
        if (world.size > 1) throw err; // the other ranks cannot tell which step this rank stopped at
      }
      if (world.size > 1) world.barrier();
    }
    log(`[benchmark] this process: ${formatDuration(performance.now() - started)}`);
    if (failed.length) {
      log(`[benchmark] ${failed.length} cell(s) failed: ${failed.join(', ')}`);
      if (!args.slice && lead) await aggregateAndReport(grid, log);
      return 1;
    }
    if (args.slice) {
      log(
        `[benchmark] slice done; when every slice is done: node pipelines/benchmark.ts ${args.gridFile} --out ${grid.out} --aggregate-only`,
      );
      return 0;
    }
  }
  if (!lead) return 0;
  const missing = await aggregateAndReport(grid, log);
  return missing && args.aggregateOnly ? 3 : 0;
}

async function aggregateAndReport(grid: ExpandedGrid, log: (line: string) => void): Promise<number> {
  const a = await aggregate(grid);
  const s = a.summary;
  if (s.missing.length)
    log(
      `[benchmark] INCOMPLETE: ${s.missing.length} of ${grid.cells.length} cells not finished (${s.missing.slice(0, 8).join(', ')}${s.missing.length > 8 ? ', …' : ''})`,
    );
  log(`[benchmark] ${s.finished.length} cells -> ${a.csv}, ${a.md}, ${a.html}`);
  return s.missing.length;
}
