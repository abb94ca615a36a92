// An evaluation suite as data: the tasks a model is evaluated on (zero-shot classification with prompt ensembles,
// image-text retrieval, linear probe), declared once and used the same way by the training runner (periodically,
// through run/eval/suite-evaluation.ts), by the benchmark grid (every cell's checkpoints) and by
// pipelines/eval-suite.ts. defineEvalSuite checks the shape (one line naming the field, unknown fields refused)
// and fills the defaults; run/eval/validate-eval-suite.ts checks the files before anything trains.
import type { EvalTask } from './results.ts';

interface TaskCommon {
  /** The dataset's name in results (file names, metric keys, the aggregate). */
  dataset: string;
  /**
   * Where the data is: a class-folder directory, a directory of MNIST IDX files, a caption CSV/TSV (or a directory
   * with captions.csv|tsv|txt and images/), a COCO captions JSON, or webdataset shards (a spec with .tar).
   */
  data: string;
  /**
   * Evaluate about this many images: every k-th of a set whose size is known (so every class stays), else the first N.
   */
  limit?: number;
  /** The metric that counts in the aggregate (default: mainMetric's table). */
  mainMetric?: string;
}

export interface ZeroShotTaskSpec extends TaskCommon {
  task: 'zeroshot_classification';
  /** A classnames-and-templates JSON ({"<key>": {classes, templates}}); default: the suite's `prompts`. */
  prompts?: string;
  /** The entry of the prompts file (default: `dataset`). */
  promptsKey?: string;
  /** 'auto': FILIP's dense token-wise scoring when the evaluated model has it, else global embeddings. */
  scoring?: 'auto' | 'global' | 'dense';
}

export interface RetrievalTaskSpec extends TaskCommon {
  task: 'zeroshot_retrieval';
  /** Image directory for a caption table or COCO JSON (default: <table dir>/images). */
  images?: string;
  /** Recall@k cut-offs (default 1, 5, 10). */
  recallK?: number[];
}

export interface LinearProbeTaskSpec extends TaskCommon {
  task: 'linear_probe';
  /** Train on this set (a seeded `valProportion` of it held out for the L2 sweep) and test on `data`; without it,
   *  `data` is split into train/val/test by `split`. */
  trainData?: string;
  /** Class names for shards and MNIST: a file with one name per line. Else the prompts entry when `prompts` or
   *  `promptsKey` is given (the file defaults to the suite's); class folders name their classes themselves. */
  classes?: string;
  prompts?: string;
  promptsKey?: string;
  split?: [number, number, number];
  valProportion?: number;
  seed?: number;
  maxIterations?: number;
  /** Directory caching the frozen features per weights file (stand-alone commands only). */
  featureCache?: string;
}

export type EvalTaskSpec = ZeroShotTaskSpec | RetrievalTaskSpec | LinearProbeTaskSpec;

export interface EvalSuite {
  name: string;
  /** Default classnames-and-templates JSON of the zero-shot tasks. */
  prompts?: string;
  /** Images per forward pass. */
  batchSize: number;
  tasks: EvalTaskSpec[];
}

/** What a hand-written suite may leave out. */
export type EvalSuiteInput = Omit<Partial<EvalSuite>, 'tasks'> & { tasks: EvalTaskSpec[] };

export const evalTaskNames: readonly EvalTask[] = ['zeroshot_classification', 'zeroshot_retrieval', 'linear_probe'];

type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'integer[]' | 'split' | 'scoring';
const common: Record<string, FieldKind> = { dataset: 'string', data: 'string', limit: 'integer', mainMetric: 'string' };
const fields: Record<EvalTask, Record<string, FieldKind>> = {
  zeroshot_classification: { ...common, prompts: 'string', promptsKey: 'string', scoring: 'scoring' },
  zeroshot_retrieval: { ...common, images: 'string', recallK: 'integer[]' },
  linear_probe: {
    ...common,
    trainData: 'string',
    classes: 'string',
    prompts: 'string',
    promptsKey: 'string',
    split: 'split',
    valProportion: 'number',
    seed: 'integer',
    maxIterations: 'integer',
    featureCache: 'string',
  },
};

function checkField(where: string, kind: FieldKind, v: unknown): void {
  const fail = (want: string): never => {
    throw new Error(`${where} must be ${want}, got ${JSON.stringify(v)}`);
  };
  const positiveInt = (x: unknown) => Number.isInteger(x) && (x as number) > 0;
  switch (kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') fail('a non-empty string');
      break;
    case 'number':
      if (typeof v !== 'number' || !(v > 0 && v < 1)) fail('a number in (0, 1)');
      break;
    case 'integer':
      if (!Number.isInteger(v) || (v as number) < 0) fail('a non-negative integer');
      break;
    case 'boolean':
      if (typeof v !== 'boolean') fail('true or false');
      break;
    case 'integer[]':
      if (!Array.isArray(v) || v.length === 0 || !v.every(positiveInt)) fail('a non-empty list of positive integers');
      break;
    case 'split': {
      const ok =
        Array.isArray(v) &&
        v.length === 3 &&
        v.every((x) => typeof x === 'number' && x > 0) &&
        Math.abs((v as number[]).reduce((a, b) => a + b, 0) - 1) < 1e-6;
      if (!ok) fail('three positive proportions summing to 1 (train, val, test)');
      break;
    }
    case 'scoring':
      if (v !== 'auto' && v !== 'global' && v !== 'dense') fail('"auto", "global" or "dense"');
      break;
  }
}

/** Check a suite's shape and fill its defaults; errors name the field (`suite.tasks[2].data`). */
export function defineEvalSuite(input: unknown, where = 'evaluation suite'): EvalSuite {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new Error(`${where} must be an object {name?, prompts?, batchSize?, tasks: [...]}`);
  const s = input as Record<string, unknown>;
  for (const key of Object.keys(s))
    if (!['name', 'prompts', 'batchSize', 'tasks'].includes(key))
      throw new Error(`${where}: unknown field "${key}" (expected name, prompts, batchSize, tasks)`);
  if (s.name !== undefined) checkField(`${where}.name`, 'string', s.name);
  if (s.prompts !== undefined) checkField(`${where}.prompts`, 'string', s.prompts);
  if (s.batchSize !== undefined && !(Number.isInteger(s.batchSize) && (s.batchSize as number) > 0))
    throw new Error(`${where}.batchSize must be a positive integer, got ${JSON.stringify(s.batchSize)}`);
  if (!Array.isArray(s.tasks) || s.tasks.length === 0) throw new Error(`${where}.tasks must be a non-empty list`);
  const seen = new Set<string>();
  const tasks = s.tasks.map((t: unknown, i: number): EvalTaskSpec => {
    const at = `${where}.tasks[${i}]`;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new Error(`${at} must be an object`);
    const task = (t as { task?: unknown }).task;
    if (!evalTaskNames.includes(task as EvalTask))
      throw new Error(`${at}.task must be one of ${evalTaskNames.join(', ')}, got ${JSON.stringify(task)}`);
    const allowed = fields[task as EvalTask];
    for (const [key, value] of Object.entries(t)) {
      if (key === 'task') continue;
      const kind = allowed[key];
      if (!kind)
        throw new Error(`${at}: unknown field "${key}" for ${task} (expected ${Object.keys(allowed).join(', ')})`);
      if (value !== undefined) checkField(`${at}.${key}`, kind, value);
    }
    for (const required of ['dataset', 'data'])
      if ((t as Record<string, unknown>)[required] === undefined) throw new Error(`${at}.${required} is required`);
    const id = `${task}:${(t as TaskCommon).dataset}`;
    if (seen.has(id)) throw new Error(`${at}: a second ${task} task on dataset "${(t as TaskCommon).dataset}"`);
    seen.add(id);
    return { ...(t as EvalTaskSpec) };
  });
  return {
    name: (s.name as string | undefined) ?? 'eval',
    ...(s.prompts !== undefined ? { prompts: s.prompts as string } : {}),
    batchSize: (s.batchSize as number | undefined) ?? 256,
    tasks,
  };
}

/** The prompts file of a zero-shot task (the task's own, else the suite's). */
export function promptsFileOf(suite: EvalSuite, task: ZeroShotTaskSpec): string | undefined {
  return task.prompts ?? suite.prompts;
}
