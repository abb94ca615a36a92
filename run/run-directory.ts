// A run directory belongs to ONE run: `run.json` records the declaration that made it (and the run's status), a lock
// (run/run-lock.ts) keeps a second process out. Opening one for a run:
//   - empty (or new): the run starts there;
//   - holding a run of the same configuration: `--resume` continues it; a new run is refused unless
//     `logging.replace` (then the old run's files are removed first);
//   - holding a run of another configuration (any field that may not change on resume differs, e.g. the model or
//     the batch size; optim.steps, evaluation and checkpoint schedules, logging and backend may): refused, naming the
//     first differing field; a new run may replace it with `logging.replace`;
//   - holding files of a run without run.json (made before run.json existed): resumable, or replaced.
// `run.json` says how the run is doing: running, finished (optim.steps reached or the data ended), stopped (a
// signal), failed; readRunStatus() adds `interrupted` for a run whose process is gone (e.g. killed with SIGKILL).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { declarationSchema, isField, type PipelineDeclaration, type Schema } from './declaration.ts';
import { UsageError } from './command.ts';
import { fieldAt, fieldPaths } from './validate.ts';
import { lockFile, lockHolderAlive, lockRunDirectory, readOwner, type LockOwner, type RunLock } from './run-lock.ts';

export type RunStatus = 'running' | 'finished' | 'stopped' | 'failed';

export interface RunFile {
  format: 'clip-bench/run';
  version: 1;
  name: string;
  createdAt: string;
  /** The declaration that made the run (evaluation hooks as their `identity`, shards as resolved). */
  declaration: Record<string, unknown>;
  status: RunStatus;
  /** The last completed step. */
  step: number;
  updatedAt: string;
  stoppedBy?: 'steps' | 'data' | 'signal';
  error?: string;
}

/** Files of a run in its directory (removed when a new run replaces it): its record, metrics, TensorBoard event files,
 *  checkpoints, evaluation results and report. */
const isRunFile = (name: string) =>
  ['run.json', 'metrics.jsonl', 'checkpoints', 'eval', 'report'].includes(name) ||
  name.startsWith('events.out.tfevents.');

export const runFile = (dir: string) => join(dir, 'run.json');

/** The declaration as JSON: an evaluation hook becomes its identity, data.shards the spec actually read. */
export function recordedDeclaration(d: PipelineDeclaration, shards: string): Record<string, unknown> {
  const hook = d.eval.evaluate;
  return JSON.parse(
    JSON.stringify({
      ...d,
      data: { ...d.data, shards },
      eval: { ...d.eval, evaluate: hook ? (hook.identity ?? hook.suite ?? 'a custom evaluation hook') : null },
    }),
  );
}

/** Paths of the fields that may differ when a run continues (flagged `resumable` in the schema). */
export const resumableFields = (schema: Schema = declarationSchema, prefix = ''): string[] =>
  Object.entries(schema).flatMap(([k, v]) =>
    isField(v) ? (v.resumable ? [prefix + k] : []) : resumableFields(v, `${prefix}${k}.`),
  );

/** The first field (not resumable) whose value differs between two recorded declarations. */
export function configurationDifference(
  recorded: Record<string, unknown>,
  current: Record<string, unknown>,
): { field: string; was: unknown; now: unknown } | undefined {
  const get = (o: Record<string, unknown>, path: string) => path.split('.').reduce<any>((n, k) => n?.[k], o);
  for (const field of fieldPaths()) {
    if (fieldAt(field)!.resumable) continue;
    const was = get(recorded, field);
    const now = get(current, field);
    if (JSON.stringify(was) !== JSON.stringify(now)) return { field, was, now };
  }
  return undefined;
}

export class RunDirectoryError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'RunDirectoryError';
  }
}

export interface RunDirectory {
  readonly dir: string;
  /** The run's record as it was before this session (undefined: a new run). */
  readonly previous: RunFile | undefined;
  /** Record the run's progress or outcome in run.json. */
  setStatus(status: RunStatus, step: number, extra?: Pick<RunFile, 'stoppedBy' | 'error'>): void;
  /** Release the lock. */
  close(): void;
}

function readRunFile(dir: string): RunFile | undefined {
  const file = runFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
    if (r.format !== 'clip-bench/run') throw new Error('not a clip-bench run record');
    return r;
  } catch (err) {
    throw new RunDirectoryError(`${file}: cannot read the run record (${(err as Error).message})`);
  }
}

function writeRunFile(dir: string, r: RunFile): void {
  const file = runFile(dir);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(r, null, 1) + '\n');
  renameSync(tmp, file);
}

const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));

/**
 * Lock `dir` for a run of `d` (reading `shards`) and check that the directory belongs to it (see the top of this
 * file). `resuming`: checkpoint.resume is set. Throws a one-line RunDirectoryError (exit code 2) or RunLockedError.
 */
export function openRunDirectory(
  d: PipelineDeclaration,
  shards: string,
  options: { resuming: boolean; log: (line: string) => void },
): RunDirectory {
  const dir = d.logging.out;
  mkdirSync(dir, { recursive: true });
  const lock: RunLock = lockRunDirectory(dir);
  try {
    const declaration = recordedDeclaration(d, shards);
    const previous = readRunFile(dir);
    const leftovers = readdirSync(dir).filter(isRunFile).sort();
    const difference = previous && configurationDifference(previous.declaration, declaration);
    const replace = () => {
      options.log(`[${d.name}] logging.replace: removing the earlier run in ${dir} (${leftovers.join(', ')})`);
      for (const f of leftovers) rmSync(join(dir, f), { recursive: true, force: true });
    };
    if (difference) {
      const what = `${difference.field} is ${show(difference.was)} there, ${show(difference.now)} here`;
      if (options.resuming)
        throw new RunDirectoryError(
          `cannot resume ${dir}: it holds a run of another configuration (${what}); on resume only these may change: ${resumableFields().join(', ')}`,
        );
      if (!d.logging.replace)
        throw new RunDirectoryError(
          `${dir} holds a run of another configuration (${what}): choose another --out, or --logging.replace to discard that run`,
        );
      replace();
    } else if (!options.resuming && leftovers.length > 0) {
      if (!d.logging.replace) {
        const state = previous ? `${previous.status} at step ${previous.step}` : `files ${leftovers.join(', ')}`;
        throw new RunDirectoryError(
          `${dir} already holds this run (${state}): --resume latest continues it, --logging.replace starts it over, or choose another --out`,
        );
      }
      replace();
    }
    const now = new Date().toISOString();
    let record: RunFile = {
      format: 'clip-bench/run',
      version: 1,
      name: d.name,
      createdAt: (!difference && options.resuming && previous?.createdAt) || now,
      declaration,
      status: 'running',
      step: previous && options.resuming && !difference ? previous.step : 0,
      updatedAt: now,
    };
    writeRunFile(dir, record);
    return {
      dir,
      previous: options.resuming ? previous : undefined,
      setStatus(status, step, extra = {}) {
        record = { ...record, status, step, updatedAt: new Date().toISOString(), ...extra };
        if (!extra.stoppedBy) delete record.stoppedBy;
        if (!extra.error) delete record.error;
        writeRunFile(dir, record);
      },
      close: () => lock.release(),
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * How the run in `dir` is doing: its run.json status, or `interrupted` when it says running but no live process
 * holds the directory (killed, crashed); `none` when the directory holds no run record.
 */
export function readRunStatus(dir: string): {
  status: RunStatus | 'interrupted' | 'none';
  step: number;
  record?: RunFile;
} {
  const record = readRunFile(dir);
  if (!record) return { status: 'none', step: 0 };
  if (record.status !== 'running') return { status: record.status, step: record.step, record };
  let owner: LockOwner | undefined;
  try {
    owner = readOwner(lockFile(dir));
  } catch {
    owner = undefined; // not a lock of ours
  }
  const live = owner !== undefined && lockHolderAlive(owner);
  return { status: live ? 'running' : 'interrupted', step: record.step, record };
}
