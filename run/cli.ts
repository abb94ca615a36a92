// Command-line overrides for any field of a pipeline declaration:
//   shortcuts  --data SPEC  --model rn50  --batch-size N  --micro-batch N  --steps N  --resume latest|PATH
//              --backend auto|tensorflow|wasm|cpu  --threads N  --out DIR  --seed N  --lr PEAK  --eval-every N
//              --checkpoint-every N  --progress auto|bar|plain|none
//   any field  --optim.peak-lr 5e-4  (or --optim.peakLr=5e-4; kebab-case or camelCase)
// Values are parsed by the field's schema type; a bad flag or value is a one-line error naming flag and field.
import { DeclarationError, leafAt, leafPaths, leafProblem, validateDeclaration } from './validate.ts';
import type { PipelineDeclaration } from './declaration.ts';
import type { CommandOption } from './command.ts';

export const shortcuts: Record<string, string> = {
  data: 'data.shards',
  model: 'model.preset',
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
  supervision: 'supervision.name',
};

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

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
    const leaf = leafAt(path);
    if (!leaf) throw new DeclarationError(path, `unknown flag --${flag} (no field ${path}; see --help)`);
    if (raw === undefined) {
      if (leaf.type === 'boolean' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) raw = 'true';
      else if (i + 1 >= argv.length) throw new DeclarationError(path, `--${flag} needs a value (${path})`);
      else raw = argv[++i];
    }
    let value: unknown = raw;
    if (leaf.type === 'int' || leaf.type === 'number' || (leaf.type === 'int|endless' && raw !== 'endless'))
      value = raw.trim() === '' ? NaN : Number(raw);
    else if (leaf.type === 'int|ints')
      value = raw.includes(',') ? raw.split(',').map((x) => (x.trim() === '' ? NaN : Number(x))) : Number(raw);
    else if (leaf.type === 'boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw;
    else if (leaf.type === 'record') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new DeclarationError(path, `--${flag}: ${path} must be a JSON object, got ${JSON.stringify(raw)}`);
      }
    } else if (leaf.type === 'function|null')
      throw new DeclarationError(path, `--${flag}: ${path} cannot be set from the command line`);
    const problem = leafProblem(path, leaf, value);
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

/** The flags of a declaration for --help: the shortcuts, then every field with its current value. */
export function declarationOptions(d: PipelineDeclaration): Record<string, CommandOption> {
  const valueOf = (path: string) => path.split('.').reduce<any>((n, k) => n?.[k], d);
  const arg = (path: string) => {
    const leaf = leafAt(path)!;
    return leaf.type === 'enum'
      ? leaf.values.join('|')
      : leaf.type === 'boolean'
        ? '[true|false]'
        : leaf.type.toUpperCase();
  };
  const options: Record<string, CommandOption> = {};
  for (const [flag, path] of Object.entries(shortcuts))
    options[flag] = { type: 'string', arg: arg(path), help: `= --${path} (now ${JSON.stringify(valueOf(path))})` };
  for (const path of leafPaths().filter((p) => leafAt(p)!.type !== 'function|null'))
    options[path] = { type: 'string', arg: arg(path), help: `now ${JSON.stringify(valueOf(path))}` };
  return options;
}
