// Validation of a pipeline declaration against its schema (run/declaration.ts): every unknown or ill-typed field is
// ONE line that names the field by its dotted path (e.g. "optim.batchSize must be an integer >= 1, got 0"), and
// defaults are filled in for omitted fields. Then the rules across fields, and the names that other tables own: the
// model (preset and fields changed on it) and the supervision's options (so a typo is exit code 2 at start-up, not a failure mid-set-up).
import { UsageError } from './command.ts';
import {
  declarationSchema,
  defaults,
  isField,
  type DeepPartial,
  type Field,
  type PipelineDeclaration,
  type Schema,
} from './declaration.ts';
import { createSupervision } from '../src/supervision/index.ts';
import { ModelConfigError, OPENAI_VOCAB_SIZE } from '../src/models/presets.ts';
import { declaredModelConfig } from './model-config.ts';

/** A bad declaration field or flag (exit code 2), naming the field by its dotted path. */
export class DeclarationError extends UsageError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'DeclarationError';
    this.field = field;
  }
}

const show = (v: unknown) =>
  typeof v === 'string'
    ? JSON.stringify(v)
    : typeof v === 'function'
      ? 'a function'
      : Array.isArray(v)
        ? 'an array'
        : v === null
          ? 'null'
          : typeof v === 'object'
            ? 'an object'
            : String(v);

/** One-line problem for a field value, or undefined if it is fine. */
export function fieldProblem(path: string, field: Field, v: unknown): string | undefined {
  switch (field.kind) {
    case 'string':
      if (typeof v !== 'string') return `${path} must be a string, got ${show(v)}`;
      if (field.nonEmpty && v === '') return `${path} must not be empty`;
      return undefined;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < field.min)
        return `${path} must be an integer >= ${field.min}, got ${show(v)}`;
      return undefined;
    case 'number': {
      const lo = field.exclusiveMin ? `> ${field.min}` : `>= ${field.min}`;
      const range = field.max !== undefined ? `${lo} and <= ${field.max}` : lo;
      if (
        typeof v !== 'number' ||
        !Number.isFinite(v) ||
        (field.exclusiveMin ? v <= field.min : v < field.min) ||
        (field.max !== undefined && v > field.max)
      ) {
        return `${path} must be a finite number ${range}, got ${show(v)}`;
      }
      return undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `${path} must be true or false, got ${show(v)}`;
    case 'enum':
      return typeof v === 'string' && field.values.includes(v)
        ? undefined
        : `${path} must be one of ${field.values.join('|')}, got ${show(v)}`;
    case 'int|endless':
      if (v === 'endless') return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < field.min)
        return `${path} must be an integer >= ${field.min} or "endless", got ${show(v)}`;
      return undefined;
    case 'int|ints':
      if (
        Array.isArray(v)
          ? v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 1)
          : Number.isInteger(v) && (v as number) >= field.min
      )
        return undefined;
      return `${path} must be an integer >= ${field.min} or a list of integers >= 1, got ${Array.isArray(v) ? JSON.stringify(v) : show(v)}`;
    case 'function|null':
      return v === null || typeof v === 'function' ? undefined : `${path} must be a function or null, got ${show(v)}`;
    case 'record':
      return v !== null && typeof v === 'object' && !Array.isArray(v)
        ? undefined
        : `${path} must be an object, got ${show(v)}`;
  }
}

function merge(path: string, node: Schema, given: unknown, fallback: any): any {
  if (given === undefined) given = {};
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new DeclarationError(path, `${path} must be an object, got ${show(given)}`);
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!(key in node)) {
      const field = path ? `${path}.${key}` : key;
      throw new DeclarationError(field, `unknown field ${field} (expected one of: ${Object.keys(node).join(', ')})`);
    }
  }
  for (const [key, sub] of Object.entries(node)) {
    const field = path ? `${path}.${key}` : key;
    const value = (given as Record<string, unknown>)[key];
    if (isField(sub)) {
      const v = value === undefined ? fallback?.[key] : value;
      if (v === undefined) throw new DeclarationError(field, `${field} is required`);
      const problem = fieldProblem(field, sub, v);
      if (problem) throw new DeclarationError(field, problem);
      out[key] = sub.kind === 'record' ? { ...(v as object) } : Array.isArray(v) ? [...v] : v;
    } else {
      out[key] = merge(field, sub, value, fallback?.[key]);
    }
  }
  return out;
}

/**
 * Fill defaults into a (partial) declaration and check it; throws a DeclarationError whose message is one
 * line naming the field. Cross-field rules are checked after the per-field ones.
 */
export function validateDeclaration(
  input: DeepPartial<PipelineDeclaration> | Record<string, unknown>,
): PipelineDeclaration {
  const d = merge('', declarationSchema, input, defaults) as PipelineDeclaration;
  const o = d.optim;
  // A micro-batch >= the batch means no accumulation (so --batch-size 8 works with the seed's micro-batch 128).
  if (o.microBatchSize > 0 && o.microBatchSize < o.batchSize && o.batchSize % o.microBatchSize !== 0) {
    throw new DeclarationError(
      'optim.microBatchSize',
      `optim.microBatchSize (${o.microBatchSize}) must divide optim.batchSize (${o.batchSize})`,
    );
  }
  if (o.peakLr < o.minLr)
    throw new DeclarationError('optim.minLr', `optim.minLr (${o.minLr}) must be <= optim.peakLr (${o.peakLr})`);
  if (o.warmupSteps > o.totalSteps)
    throw new DeclarationError(
      'optim.warmupSteps',
      `optim.warmupSteps (${o.warmupSteps}) must be <= optim.totalSteps (${o.totalSteps})`,
    );
  if (d.eval.shards && !d.eval.evaluate && !d.eval.prompts)
    throw new DeclarationError(
      'eval.prompts',
      `eval.prompts is required with eval.shards (a classnames-and-templates JSON)`,
    );
  try {
    declaredModelConfig(d, OPENAI_VOCAB_SIZE);
  } catch (e) {
    if (e instanceof ModelConfigError) throw new DeclarationError(e.field, e.message);
    throw e;
  }
  try {
    createSupervision(d.supervision.name, d.supervision.options).dispose();
  } catch (err) {
    throw new DeclarationError('supervision.options', `supervision.options: ${(err as Error).message}`);
  }
  return d;
}

/** The schema field at a dotted path, or undefined. */
export function fieldAt(path: string): Field | undefined {
  let node: Field<any> | Schema = declarationSchema;
  for (const part of path.split('.')) {
    if (isField(node)) return undefined;
    const next: Field<any> | Schema | undefined = (node as Schema)[part];
    if (next === undefined) return undefined;
    node = next;
  }
  return isField(node) ? node : undefined;
}

/** Every dotted field path of the schema, in declaration order. */
export function fieldPaths(node: Schema = declarationSchema, prefix = ''): string[] {
  return Object.entries(node).flatMap(([k, v]) => (isField(v) ? [prefix + k] : fieldPaths(v, `${prefix}${k}.`)));
}
