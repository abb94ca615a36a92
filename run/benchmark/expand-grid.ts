// Grid validation and expansion: checks a GridDeclaration (every problem is ONE line naming the field, e.g.
// "axes.supervision.slip.options: must be an object, got an array"), then builds every cell's full, validated
// pipeline declaration = the base with the cell's axis values applied. Cells come in a fixed order (data, model,
// supervision, seed; each axis in its declared order) and have stable, readable keys used as directory names:
//   <data>_<model>_<supervision>_s<seed>        e.g. clean_vit_clip_s0
import { join } from 'node:path';
import { DeclarationError, validateDeclaration } from '../validate.ts';
import type { PipelineDeclaration } from '../declaration.ts';
import { defineEvalSuite, type EvalSuite } from '../../src/eval/eval-suite.ts';
import type { GridDeclaration, ModelAxisValue, DataAxisValue, SupervisionAxisValue } from './grid.ts';

export class GridError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'GridError';
    this.field = field;
  }
}

export type AxisName = 'data' | 'supervision' | 'model';
export const AXIS_NAMES: readonly AxisName[] = ['data', 'model', 'supervision'];

export interface GridCell {
  key: string;
  /** Position in the grid order (what `--cell i/N` slices). */
  index: number;
  axes: { data: string; model: string; supervision: string; seed: number };
  declaration: PipelineDeclaration;
  /** The data variant's prepare hook, if any. */
  prepare?: () => Promise<void>;
}

export interface ExpandedGrid {
  name: string;
  /** The values of each axis in declared order ('base' when the grid does not vary that axis). */
  values: Record<AxisName, string[]>;
  seeds: number[];
  baseline: Record<AxisName, string>;
  suite: EvalSuite;
  cells: GridCell[];
  out: string;
}

/** Names of axis values become parts of directory names: letters, digits, '.', '-' (no '_', the key separator). */
const VALUE_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
/** The model fields that make the architecture: a swapped-in model value brings its own (the base's stay behind). */
export const ARCHITECTURE_FIELDS = ['preset', 'embedDim', 'vision', 'text'];
/** The fields that make the budget: every cell trains the same samples with the same schedule. */
export const BUDGET_FIELDS = ['batchSize', 'steps', 'totalSteps', 'warmupSteps'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown) =>
  Array.isArray(v)
    ? 'an array'
    : v === null
      ? 'null'
      : typeof v === 'object'
        ? 'an object'
        : typeof v === 'function'
          ? 'a function'
          : JSON.stringify(v);

/** A deep copy that keeps functions (evaluation hooks) by reference. */
export function cloneKeepingFunctions<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneKeepingFunctions) as T;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cloneKeepingFunctions(x)])) as T;
  return v;
}

export function cellKey(axes: GridCell['axes']): string {
  return `${axes.data}_${axes.model}_${axes.supervision}_s${axes.seed}`;
}

function checkNames(field: string, values: Record<string, unknown>): string[] {
  if (!isObject(values)) throw new GridError(field, `must be an object of named values, got ${show(values)}`);
  const names = Object.keys(values);
  if (names.length === 0) throw new GridError(field, 'needs at least one value');
  for (const n of names)
    if (!VALUE_NAME.test(n))
      throw new GridError(
        `${field}.${n}`,
        `value names are letters, digits, '.' and '-' (they name directories; '_' separates the axes)`,
      );
  return names;
}

function checkOptim(field: string, optim: unknown): void {
  if (optim !== undefined && !isObject(optim))
    throw new GridError(`${field}.optim`, `must be an object, got ${show(optim)}`);
}

function dataFields(
  field: string,
  v: DataAxisValue,
): { fields: Record<string, unknown>; prepare?: () => Promise<void> } {
  if (typeof v === 'string') {
    if (!v) throw new GridError(field, 'a shard spec must not be empty');
    return { fields: { shards: v } };
  }
  if (!isObject(v)) throw new GridError(field, `must be a shard spec or an object of data fields, got ${show(v)}`);
  const { prepare, ...fields } = v as Record<string, unknown>;
  if (prepare !== undefined && typeof prepare !== 'function')
    throw new GridError(`${field}.prepare`, `must be a function, got ${show(prepare)}`);
  return { fields, prepare: prepare as (() => Promise<void>) | undefined };
}

function supervisionValue(field: string, v: SupervisionAxisValue): SupervisionAxisValue {
  if (!isObject(v)) throw new GridError(field, `must be { name, options?, optim? }, got ${show(v)}`);
  for (const k of Object.keys(v))
    if (!['name', 'options', 'optim'].includes(k))
      throw new GridError(`${field}.${k}`, 'unknown field (expected name, options, optim)');
  if (typeof v.name !== 'string' || !v.name)
    throw new GridError(`${field}.name`, `must be a method name, got ${show(v.name)}`);
  if (v.options !== undefined && !isObject(v.options))
    throw new GridError(`${field}.options`, `must be an object, got ${show(v.options)}`);
  checkOptim(field, v.optim);
  return v;
}

function modelValue(
  field: string,
  v: ModelAxisValue,
): { fields: Record<string, unknown>; optim?: Record<string, unknown> } {
  if (typeof v === 'string') {
    if (!v) throw new GridError(field, 'a preset name must not be empty');
    return { fields: { preset: v } };
  }
  if (!isObject(v)) throw new GridError(field, `must be a preset name or an object of model fields, got ${show(v)}`);
  const { optim, ...fields } = v as Record<string, unknown>;
  checkOptim(field, optim);
  if (fields.preset === undefined)
    throw new GridError(`${field}.preset`, 'is required (the tower fields override a preset)');
  return { fields, optim: optim as Record<string, unknown> | undefined };
}

function checkSeeds(field: string, seeds: unknown): number[] {
  if (!Array.isArray(seeds) || seeds.length === 0)
    throw new GridError(field, `must be a non-empty array of seeds, got ${show(seeds)}`);
  for (const s of seeds)
    if (!Number.isInteger(s) || s < 0) throw new GridError(field, `seeds are integers >= 0, got ${show(s)}`);
  if (new Set(seeds).size !== seeds.length)
    throw new GridError(field, `seeds must be distinct, got ${JSON.stringify(seeds)}`);
  return seeds as number[];
}

function checkSuite(suite: unknown): EvalSuite {
  if (suite === undefined) throw new GridError('suite', 'is required (the evaluation suite every cell is scored with)');
  try {
    return defineEvalSuite(suite, 'suite');
  } catch (err) {
    throw new GridError('', (err as Error).message);
  }
}

/** Which grid field a declaration field of a cell came from (for error messages). */
function origin(
  field: string,
  axes: GridCell['axes'],
  given: { data: Set<string>; model: Set<string>; optim: Map<string, string> },
): string {
  const [section, leaf] = field.split('.');
  if (section === 'supervision') return `axes.supervision.${axes.supervision}`;
  if (section === 'model' && given.model.size) return `axes.model.${axes.model}`;
  if (section === 'data' && leaf && given.data.has(leaf)) return `axes.data.${axes.data}`;
  if (section === 'optim' && leaf && given.optim.has(leaf)) return given.optim.get(leaf)!;
  return 'base';
}

/** Validate a grid and expand it into cells. `out` is the benchmark's output directory (cells go under out/cells). */
export function expandGrid(grid: GridDeclaration, out?: string): ExpandedGrid {
  if (!isObject(grid))
    throw new GridError('', `a grid file must export default a grid declaration object, got ${show(grid)}`);
  for (const k of Object.keys(grid))
    if (!['name', 'base', 'axes', 'baseline', 'suite', 'budgetPerCell', 'out'].includes(k))
      throw new GridError(k, 'unknown field (expected name, base, axes, baseline, suite, budgetPerCell, out)');
  if (typeof grid.name !== 'string' || !VALUE_NAME.test(grid.name))
    throw new GridError('name', `must be a name of letters, digits, '.', '-', got ${show(grid.name)}`);
  if (!isObject(grid.base))
    throw new GridError('base', `must be a pipeline declaration object, got ${show(grid.base)}`);
  if (grid.budgetPerCell !== undefined && typeof grid.budgetPerCell !== 'boolean')
    throw new GridError('budgetPerCell', `must be true or false, got ${show(grid.budgetPerCell)}`);
  if (grid.out !== undefined && (typeof grid.out !== 'string' || !grid.out))
    throw new GridError('out', `must be a directory path, got ${show(grid.out)}`);
  const outDir = out ?? grid.out ?? join('runs', `benchmark-${grid.name}`);
  const axes = grid.axes ?? {};
  if (!isObject(axes)) throw new GridError('axes', `must be an object, got ${show(axes)}`);
  for (const k of Object.keys(axes))
    if (!['data', 'supervision', 'model', 'seeds'].includes(k))
      throw new GridError(`axes.${k}`, 'unknown axis (expected data, supervision, model, seeds)');

  // the base alone must be a valid declaration (name and output are the cells')
  let base: PipelineDeclaration;
  try {
    base = validateDeclaration({ ...cloneKeepingFunctions(grid.base), name: grid.base.name ?? grid.name });
  } catch (err) {
    if (err instanceof DeclarationError) throw new GridError(`base.${err.field}`, err.message);
    throw err;
  }
  const suite = checkSuite(grid.suite);

  const values: Record<AxisName, string[]> = {
    data: axes.data ? checkNames('axes.data', axes.data) : ['base'],
    model: axes.model ? checkNames('axes.model', axes.model) : ['base'],
    supervision: axes.supervision ? checkNames('axes.supervision', axes.supervision) : ['base'],
  };
  const baseline = {} as Record<AxisName, string>;
  if (grid.baseline !== undefined && !isObject(grid.baseline))
    throw new GridError('baseline', `must be an object like { supervision: 'clip' }, got ${show(grid.baseline)}`);
  for (const k of Object.keys(grid.baseline ?? {}))
    if (!AXIS_NAMES.includes(k as AxisName))
      throw new GridError(`baseline.${k}`, 'unknown axis (expected data, model, supervision)');
  for (const a of AXIS_NAMES) {
    const b = grid.baseline?.[a];
    if (b !== undefined && !values[a].includes(b))
      throw new GridError(`baseline.${a}`, `${show(b)} is not a value of the axis (values: ${values[a].join(', ')})`);
    baseline[a] = b ?? values[a][0];
  }
  if (axes.seeds !== undefined && typeof axes.seeds !== 'function') checkSeeds('axes.seeds', axes.seeds);

  const cells: GridCell[] = [];
  const allSeeds = new Set<number>();
  for (const dataName of values.data) {
    const dataV = axes.data ? dataFields(`axes.data.${dataName}`, axes.data[dataName]) : undefined;
    for (const modelName of values.model) {
      const modelV = axes.model ? modelValue(`axes.model.${modelName}`, axes.model[modelName]) : undefined;
      for (const supName of values.supervision) {
        const supV = axes.supervision
          ? supervisionValue(`axes.supervision.${supName}`, axes.supervision[supName])
          : undefined;
        const combination = { data: dataName, model: modelName, supervision: supName };
        const seeds =
          typeof axes.seeds === 'function'
            ? checkSeeds(`axes.seeds(${JSON.stringify(combination)})`, axes.seeds(combination))
            : (axes.seeds ?? [base.seed]);
        for (const seed of seeds) {
          allSeeds.add(seed);
          const cellAxes = { ...combination, seed };
          const key = cellKey(cellAxes);
          const d: any = cloneKeepingFunctions(grid.base);
          if (dataV) d.data = { ...(d.data ?? {}), ...cloneKeepingFunctions(dataV.fields) };
          if (supV) d.supervision = { name: supV.name, options: cloneKeepingFunctions(supV.options ?? {}) };
          if (modelV) {
            // the base's architecture does not carry over into a swapped-in model: only its scalar fields stay
            const kept = Object.fromEntries(
              Object.entries(d.model ?? {}).filter(([k]) => !ARCHITECTURE_FIELDS.includes(k)),
            );
            d.model = { ...kept, ...cloneKeepingFunctions(modelV.fields) };
          }
          const optimFrom = new Map<string, string>();
          for (const [from, optim] of [
            [`axes.supervision.${supName}.optim`, supV?.optim],
            [`axes.model.${modelName}.optim`, modelV?.optim],
          ] as Array<[string, Record<string, unknown> | undefined]>) {
            for (const [k, v] of Object.entries(optim ?? {})) {
              const other = optimFrom.get(k);
              if (other && d.optim[k] !== v)
                throw new GridError(`${from}.${k}`, `conflicts with ${other}.${k} in cell ${key}`);
              if (!grid.budgetPerCell && (BUDGET_FIELDS as readonly string[]).includes(k))
                throw new GridError(
                  `${from}.${k}`,
                  "changes the budget; every cell gets the base's batch, steps and schedule " +
                    'unless the grid sets budgetPerCell: true',
                );
              d.optim = { ...(d.optim ?? {}), [k]: v };
              optimFrom.set(k, from);
            }
          }
          d.seed = seed;
          d.name = key;
          d.logging = { ...(d.logging ?? {}), out: join(outDir, 'cells', key) };
          d.checkpoint = { ...(d.checkpoint ?? {}), resume: 'latest' };
          let declaration: PipelineDeclaration;
          try {
            declaration = validateDeclaration(d);
          } catch (err) {
            if (!(err instanceof DeclarationError)) throw err;
            const given = {
              data: new Set(Object.keys(dataV?.fields ?? {})),
              model: new Set(Object.keys(modelV?.fields ?? {})),
              optim: optimFrom,
            };
            throw new GridError(origin(err.field, cellAxes, given), `cell ${key}: ${err.message}`);
          }
          cells.push({ key, index: cells.length, axes: cellAxes, declaration, prepare: dataV?.prepare });
        }
      }
    }
  }
  return { name: grid.name, values, seeds: [...allSeeds].sort((a, b) => a - b), baseline, suite, cells, out: outDir };
}

/** `--cell i/N`: the i-th of N interleaved slices (cell index mod N = i), for array jobs. */
export function parseSlice(spec: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count)
    throw new GridError(
      '',
      `--cell must be i/N with 0 <= i < N (e.g. 0/4 for the first of 4 slices), got ${JSON.stringify(spec)}`,
    );
  return { index, count };
}

/** `--only axis=value[,value]` filters (AND across flags, OR within one): data, model, supervision, seed or cell. */
export function selectCells(
  grid: ExpandedGrid,
  options: { only?: string[]; slice?: { index: number; count: number } },
): GridCell[] {
  let cells = grid.cells;
  for (const f of options.only ?? []) {
    const eq = f.indexOf('=');
    const axis = eq > 0 ? f.slice(0, eq) : '';
    const wanted =
      eq > 0
        ? f
            .slice(eq + 1)
            .split(',')
            .filter(Boolean)
        : [];
    if (!['data', 'model', 'supervision', 'seed', 'cell'].includes(axis) || wanted.length === 0)
      throw new GridError(
        '',
        '--only must be AXIS=VALUE[,VALUE] with AXIS one of data, model, supervision, seed, cell; ' +
          `got ${JSON.stringify(f)}`,
      );
    const known =
      axis === 'seed'
        ? grid.seeds.map(String)
        : axis === 'cell'
          ? grid.cells.map((c) => c.key)
          : grid.values[axis as AxisName];
    for (const w of wanted)
      if (!known.includes(w))
        throw new GridError(
          '',
          `--only ${axis}=${w}: no such ${axis} in grid ${grid.name} (known: ${known.join(', ')})`,
        );
    cells = cells.filter((c) => {
      const v = axis === 'cell' ? c.key : axis === 'seed' ? String(c.axes.seed) : c.axes[axis as AxisName];
      return wanted.includes(v);
    });
  }
  const s = options.slice;
  return s ? cells.filter((c) => c.index % s.count === s.index) : cells;
}
