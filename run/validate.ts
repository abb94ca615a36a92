// Validation of a pipeline declaration against its schema: every unknown or ill-typed field is reported as ONE
// line that names the field by its dotted path (e.g. "optim.batchSize must be an integer >= 1, got 0"), and
// defaults are filled in for omitted fields. The schema also tells the CLI how to parse an override's value.
import { UsageError } from './command.ts';
import { defaults, type PipelineDeclaration, type DeepPartial } from './declaration.ts';
import { supervisionNames } from '../src/supervision/index.ts';
import { ModelConfigError, OPENAI_VOCAB_SIZE } from '../src/models/presets.ts';
import { declaredModelConfig } from './model-config.ts';

export type Leaf =
  | { type: 'string'; nonEmpty?: boolean }
  | { type: 'int'; min: number }
  | { type: 'number'; min: number; exclusiveMin?: boolean; max?: number }
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'int|endless'; min: number }
  | { type: 'int|ints'; min: number }
  | { type: 'function|null' }
  | { type: 'record' };
export type Schema = { [key: string]: Leaf | Schema };

const isLeaf = (x: Leaf | Schema): x is Leaf => typeof (x as { type?: unknown }).type === 'string';

export const schema: Schema = {
  name: { type: 'string', nonEmpty: true },
  seed: { type: 'int', min: 0 },
  data: {
    shards: { type: 'string' },
    env: { type: 'string' },
    missingHint: { type: 'string' },
    epochs: { type: 'int|endless', min: 1 },
    captionExtension: { type: 'string', nonEmpty: true },
    decodeConcurrency: { type: 'int', min: 1 },
  },
  model: {
    preset: { type: 'string', nonEmpty: true },
    embedDim: { type: 'int', min: 0 },
    vision: {
      imageSize: { type: 'int', min: 0 },
      patchSize: { type: 'int', min: 0 },
      width: { type: 'int', min: 0 },
      layers: { type: 'int|ints', min: 0 },
      heads: { type: 'int', min: 0 },
    },
    text: {
      width: { type: 'int', min: 0 },
      layers: { type: 'int', min: 0 },
      heads: { type: 'int', min: 0 },
    },
    normalisation: { type: 'enum', values: ['imagenet', 'openai'] },
    bnGhostSize: { type: 'int', min: 0 },
  },
  text: {
    variant: { type: 'enum', values: ['declip', 'openai'] },
    vocabPath: { type: 'string' },
    contextLength: { type: 'int', min: 2 },
  },
  supervision: {
    name: { type: 'enum', values: supervisionNames },
    options: { type: 'record' },
  },
  optim: {
    batchSize: { type: 'int', min: 1 },
    microBatchSize: { type: 'int', min: 0 },
    steps: { type: 'int', min: 0 },
    baseLr: { type: 'number', min: 0 },
    peakLr: { type: 'number', min: 0, exclusiveMin: true },
    warmupSteps: { type: 'int', min: 0 },
    totalSteps: { type: 'int', min: 1 },
    minLr: { type: 'number', min: 0 },
    beta1: { type: 'number', min: 0, max: 1 },
    beta2: { type: 'number', min: 0, max: 1 },
    eps: { type: 'number', min: 0, exclusiveMin: true },
    weightDecay: { type: 'number', min: 0 },
    nanPolicy: { type: 'enum', values: ['stop', 'rollback'] },
    rollbackLrFactor: { type: 'number', min: 0, exclusiveMin: true, max: 1 },
    maxRollbacks: { type: 'int', min: 0 },
  },
  eval: {
    every: { type: 'int', min: 0 },
    atEnd: { type: 'boolean' },
    evaluate: { type: 'function|null' },
    shards: { type: 'string' },
    prompts: { type: 'string' },
    dataset: { type: 'string', nonEmpty: true },
  },
  checkpoint: {
    every: { type: 'int', min: 0 },
    keep: { type: 'int', min: 1 },
    resume: { type: 'string' },
    onSignal: { type: 'boolean' },
  },
  logging: {
    out: { type: 'string', nonEmpty: true },
    progress: { type: 'enum', values: ['auto', 'bar', 'plain', 'none'] },
    every: { type: 'int', min: 1 },
  },
  backend: {
    name: { type: 'enum', values: ['auto', 'tensorflow', 'wasm', 'cpu'] },
    threads: { type: 'int', min: 0 },
  },
  distributed: {
    nnQueue: { type: 'enum', values: ['global', 'per-rank'] },
    bnBuffers: { type: 'enum', values: ['mean', 'rank0'] },
    bucketMb: { type: 'number', min: 0, exclusiveMin: true },
  },
};

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

/** One-line problem for a leaf value, or undefined if it is fine. */
export function leafProblem(path: string, leaf: Leaf, v: unknown): string | undefined {
  switch (leaf.type) {
    case 'string':
      if (typeof v !== 'string') return `${path} must be a string, got ${show(v)}`;
      if (leaf.nonEmpty && v === '') return `${path} must not be empty`;
      return undefined;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < leaf.min)
        return `${path} must be an integer >= ${leaf.min}, got ${show(v)}`;
      return undefined;
    case 'number': {
      const lo = leaf.exclusiveMin ? `> ${leaf.min}` : `>= ${leaf.min}`;
      const range = leaf.max !== undefined ? `${lo} and <= ${leaf.max}` : lo;
      if (
        typeof v !== 'number' ||
        !Number.isFinite(v) ||
        (leaf.exclusiveMin ? v <= leaf.min : v < leaf.min) ||
        (leaf.max !== undefined && v > leaf.max)
      ) {
        return `${path} must be a finite number ${range}, got ${show(v)}`;
      }
      return undefined;
    }
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `${path} must be true or false, got ${show(v)}`;
    case 'enum':
      return typeof v === 'string' && leaf.values.includes(v)
        ? undefined
        : `${path} must be one of ${leaf.values.join('|')}, got ${show(v)}`;
    case 'int|endless':
      if (v === 'endless') return undefined;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < leaf.min)
        return `${path} must be an integer >= ${leaf.min} or "endless", got ${show(v)}`;
      return undefined;
    case 'int|ints':
      if (
        Array.isArray(v)
          ? v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 1)
          : Number.isInteger(v) && (v as number) >= leaf.min
      )
        return undefined;
      return `${path} must be an integer >= ${leaf.min} or a list of integers >= 1, got ${Array.isArray(v) ? JSON.stringify(v) : show(v)}`;
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
    if (isLeaf(sub)) {
      const v = value === undefined ? fallback?.[key] : value;
      if (v === undefined) throw new DeclarationError(field, `${field} is required`);
      const problem = leafProblem(field, sub, v);
      if (problem) throw new DeclarationError(field, problem);
      out[key] = sub.type === 'record' ? { ...(v as object) } : Array.isArray(v) ? [...v] : v;
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
  const d = merge('', schema, input, defaults) as PipelineDeclaration;
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
  try {
    declaredModelConfig(d, OPENAI_VOCAB_SIZE);
  } catch (e) {
    if (e instanceof ModelConfigError) throw new DeclarationError(e.field, e.message);
    throw e;
  }
  if (d.eval.shards && !d.eval.evaluate && !d.eval.prompts)
    throw new DeclarationError(
      'eval.prompts',
      `eval.prompts is required with eval.shards (a classnames-and-templates JSON)`,
    );
  return d;
}

/** The schema leaf at a dotted path, or undefined. */
export function leafAt(path: string): Leaf | undefined {
  let node: Leaf | Schema = schema;
  for (const part of path.split('.')) {
    if (isLeaf(node)) return undefined;
    const next: Leaf | Schema | undefined = (node as Schema)[part];
    if (next === undefined) return undefined;
    node = next;
  }
  return isLeaf(node) ? node : undefined;
}

/** Every dotted leaf path of the schema (for help texts). */
export function leafPaths(node: Schema = schema, prefix = ''): string[] {
  return Object.entries(node).flatMap(([k, v]) => (isLeaf(v) ? [prefix + k] : leafPaths(v, `${prefix}${k}.`)));
}
