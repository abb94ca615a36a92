// Command-line overrides for any field of a pipeline declaration:
//   shortcuts  --data SPEC  --model rn50  --batch-size N  --micro-batch N  --steps N  --resume latest|PATH
//              --backend auto|tensorflow|wasm|cpu  --threads N  --out DIR  --seed N  --lr PEAK  --eval-every N
//              --checkpoint-every N  --progress auto|bar|plain|none  --supervision NAME
//   any field  --optim.peak-lr 5e-4  (or --optim.peakLr=5e-4; kebab-case or camelCase)
// Values are parsed by the field's schema kind; a bad flag or value is a one-line error naming flag and field.
// Swapping the supervision (`--supervision clip`) starts from the new method's defaults: the declaration's options
// belong to the method it names, so they do not follow a swap (give --supervision.options too to set new ones).
import { DeclarationError, fieldAt, fieldPaths, fieldProblem, validateDeclaration } from './validate.ts';
import type { PipelineDeclaration } from './declaration.ts';
import type { CommandOption } from './command.ts';

export const shortcuts: Record<string, string> = {
  data: 'data.shards',
  model: 'model.preset',
  supervision: 'supervision.name',
  'batch-size': 'optim.batchSize',
  'micro-batch': 'optim.microBatchSize',
  steps: 'optim.steps',
  'total-steps': 'optim.totalSteps',
  lr: 'optim.peakLr',
  resume: 'checkpoint.resume',
  'checkpoint-every': 'checkpoint.every',
  'eval-every': 'eval.every',
  backend: 'backend.name',
  threads: 'backend.threads',
  out: 'logging.out',
  progress: 'logging.progress',
  seed: 'seed',
};

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface ParsedArgs {
  /** Dotted field path -> parsed value. */
  overrides: Array<[string, unknown]>;
}

/** Parse argv (without node and script) into typed field overrides; throws DeclarationError on a bad flag. */
export function parseArgs(argv: string[]): ParsedArgs {
  const overrides: Array<[string, unknown]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--'))
      throw new DeclarationError(
        '',
        `unexpected argument ${JSON.stringify(arg)} (flags look like --steps 10; see --help)`,
      );
    let flag = arg.slice(2);
    let raw: string | undefined;
    const eq = flag.indexOf('=');
    if (eq >= 0) {
      raw = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const path = shortcuts[flag] ?? flag.split('.').map(camel).join('.');
    const field = fieldAt(path);
    if (!field) throw new DeclarationError(path, `unknown flag --${flag} (no field ${path}; see --help)`);
    if (raw === undefined) {
      if (field.kind === 'boolean' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) raw = 'true';
      else if (i + 1 >= argv.length) throw new DeclarationError(path, `--${flag} needs a value (${path})`);
      else raw = argv[++i];
    }
    let value: unknown = raw;
    if (field.kind === 'int' || field.kind === 'number' || (field.kind === 'int|endless' && raw !== 'endless'))
      value = raw.trim() === '' ? NaN : Number(raw);
    else if (field.kind === 'int|ints')
      value = raw.includes(',') ? raw.split(',').map((x) => (x.trim() === '' ? NaN : Number(x))) : Number(raw);
    else if (field.kind === 'boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw;
    else if (field.kind === 'record') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new DeclarationError(path, `--${flag}: ${path} must be a JSON object, got ${JSON.stringify(raw)}`);
      }
    } else if (field.kind === 'function|null')
      throw new DeclarationError(path, `--${flag}: ${path} cannot be set from the command line`);
    const problem = fieldProblem(path, field, value);
    if (problem)
      throw new DeclarationError(path, `--${flag}: ${problem.replace(/got (.*)$/, `got ${JSON.stringify(raw)}`)}`);
    overrides.push([path, value]);
  }
  return { overrides };
}

/** Apply overrides to a declaration and re-validate (cross-field rules). */
export function applyOverrides(
  declaration: PipelineDeclaration,
  overrides: Array<[string, unknown]>,
): PipelineDeclaration {
  const copy: any = structuredCloneDeclaration(declaration);
  const swapped = overrides.some(([p, v]) => p === 'supervision.name' && v !== declaration.supervision.name);
  if (swapped && !overrides.some(([p]) => p === 'supervision.options')) copy.supervision.options = {};
  for (const [path, value] of overrides) {
    const parts = path.split('.');
    let node = copy;
    for (const p of parts.slice(0, -1)) node = node[p];
    node[parts[parts.length - 1]] = value;
  }
  return validateDeclaration(copy);
}

/** A deep copy that keeps functions (the eval hook) by reference. */
function structuredCloneDeclaration(d: PipelineDeclaration): PipelineDeclaration {
  const clone = (v: any): any =>
    v && typeof v === 'object' && !ArrayBuffer.isView(v)
      ? Array.isArray(v)
        ? v.map(clone)
        : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clone(x)]))
      : v;
  return clone(d);
}

/** The flags of a declaration for --help: the shortcuts, then every field with its documentation and current value. */
export function declarationOptions(
  d: Omit<PipelineDeclaration, 'name'> & { name?: string },
): Record<string, CommandOption> {
  const valueOf = (path: string) => path.split('.').reduce<any>((n, k) => n?.[k], d);
  const arg = (path: string) => {
    const f = fieldAt(path)!;
    return f.kind === 'enum'
      ? f.values.join('|')
      : f.kind === 'boolean'
        ? '[true|false]'
        : f.kind === 'record'
          ? 'JSON'
          : f.kind === 'int|endless'
            ? 'N|endless'
            : f.kind === 'int|ints'
              ? 'N|N,N,N,N'
              : f.kind === 'int'
                ? 'N'
                : f.kind === 'number'
                  ? 'X'
                  : 'S';
  };
  const now = (path: string) => ` (now ${JSON.stringify(valueOf(path)) ?? 'unset'})`;
  const options: Record<string, CommandOption> = {};
  for (const [flag, path] of Object.entries(shortcuts))
    options[flag] = { type: 'string', arg: arg(path), help: `--${path.split('.').map(kebab).join('.')}${now(path)}` };
  for (const path of fieldPaths().filter((p) => fieldAt(p)!.kind !== 'function|null'))
    options[path.split('.').map(kebab).join('.')] = {
      type: 'string',
      arg: arg(path),
      help: `${fieldAt(path)!.doc}${now(path)}`,
    };
  return options;
}
