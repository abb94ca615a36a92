// The pipeline declaration: ONE plain object that says everything a training run needs (data, model, supervision,
// optimiser + schedule, evaluation, checkpointing, logging, backend). Its fields are written once, below, in
// `declarationSchema`: each field's type, default, documentation (shown by --help) and whether it may change when a
// run is resumed. The TypeScript type (`PipelineDeclaration`) and the defaults are derived from it; run/validate.ts
// checks a declaration against it, run/cli.ts parses command-line overrides by it. The defaults are the seed's
// recipe for CLIP on YFCC-15M, so a pipeline states only what differs.
import type { BackendChoice } from '../src/backend.ts';
import { supervisionNames, type SupervisionName } from '../src/supervision/index.ts';

export type { SupervisionName };

/** What the runner hands an evaluation hook (called every `eval.every` steps, at the start and at the end). */
export interface EvaluateContext {
  step: number;
  /** The model being trained (ClipModel from src/models/clip.ts). */
  model: any;
  /** The Supervision (src/supervision) — e.g. FILIP evaluates with dense features. */
  supervision: any;
  /** The tokenizer the run uses. */
  tokenizer: any;
  declaration: PipelineDeclaration;
  signal: AbortSignal;
}

/**
 * Returns named scalar results (e.g. { 'demo/top1': 0.41 }); they go to metrics.jsonl as an eval record.
 * `validate` (optional) is called before training starts and throws a one-line error when the evaluation cannot run
 * (missing files or prompts, a dataset absent from the prompts); `identity` (optional, JSON) says what is evaluated,
 * so a resumed run can tell that its evaluation did not change (an evaluation suite hook has its `suite`).
 */
export type EvaluateHook = ((ctx: EvaluateContext) => Promise<Record<string, number>>) & {
  validate?: () => Promise<void>;
  identity?: unknown;
  suite?: unknown;
};

// ---- field kinds -------------------------------------------------------------------------------------------------

interface FieldBase<T> {
  /** The value when the declaration leaves the field out (undefined: the field is required). */
  default: T | undefined;
  /** One line for --help. */
  doc: string;
  /** May differ when a run is resumed in its run directory (steps, schedules of evaluations and checkpoints...). */
  resumable: boolean;
  /** Phantom: the field's TypeScript type. */
  readonly type?: T;
}
export type Field<T = unknown> = FieldBase<T> &
  (
    | { kind: 'string'; nonEmpty: boolean }
    | { kind: 'int'; min: number }
    | { kind: 'number'; min: number; exclusiveMin: boolean; max?: number }
    | { kind: 'boolean' }
    | { kind: 'enum'; values: readonly string[] }
    | { kind: 'int|endless'; min: number }
    | { kind: 'int|ints'; min: number }
    | { kind: 'function|null' }
    | { kind: 'record' }
  );
export type Schema = { readonly [key: string]: Field<any> | Schema };

interface FieldOptions {
  resumable?: boolean;
}
const base = <T>(def: T | undefined, doc: string, o: FieldOptions) => ({ default: def, doc, resumable: !!o.resumable });
const str = (def: string | undefined, doc: string, o: FieldOptions & { nonEmpty?: boolean } = {}): Field<string> => ({
  kind: 'string',
  nonEmpty: !!o.nonEmpty,
  ...base(def, doc, o),
});
const int = (def: number, min: number, doc: string, o: FieldOptions = {}): Field<number> => ({
  kind: 'int',
  min,
  ...base(def, doc, o),
});
const num = (
  def: number,
  range: { min: number; exclusiveMin?: boolean; max?: number },
  doc: string,
  o: FieldOptions = {},
): Field<number> => ({ kind: 'number', exclusiveMin: !!range.exclusiveMin, ...range, ...base(def, doc, o) });
const bool = (def: boolean, doc: string, o: FieldOptions = {}): Field<boolean> => ({
  kind: 'boolean',
  ...base(def, doc, o),
});
const oneOf = <const V extends readonly string[]>(
  values: V,
  def: V[number],
  doc: string,
  o: FieldOptions = {},
): Field<V[number]> => ({ kind: 'enum', values, ...base(def, doc, o) });

// ---- the declaration ---------------------------------------------------------------------------------------------

export const declarationSchema = {
  name: str(undefined, 'name of the pipeline (metrics, checkpoints and messages carry it)', { nonEmpty: true }),
  seed: int(0, 0, 'seed of every random draw (model init, shard order, augmentations, masking)'),
  data: {
    shards: str('', "webdataset shard spec ('dir/train-{000000..000099}.tar', '::' joins lists); '' = from data.env"),
    env: str('', 'environment variable holding the shard spec when data.shards is empty', { resumable: true }),
    missingHint: str('no training data: pass --data SHARD_SPEC', 'the one line printed when there is no data', {
      resumable: true,
    }),
    epochs: {
      kind: 'int|endless',
      min: 1,
      ...base<number | 'endless'>('endless', "passes over the shards; 'endless' = iteration-based, as the seed", {
        resumable: true,
      }),
    } as Field<number | 'endless'>,
    captionExtension: str('txt', 'member extension of the caption in each sample', { nonEmpty: true }),
    decodeConcurrency: int(6, 1, 'images decoded in flight (4-8 saturate two cores)', { resumable: true }),
  },
  model: {
    preset: str('vit-b32', 'model preset: vit-b32 | vit-b16 | rn50 | rn101 | tiny | tiny-rn', { nonEmpty: true }),
    // fields changed on top of the preset; 0 = the preset's (heads: follow the width at the preset's head width)
    embedDim: int(0, 0, "joint embedding width (0 = the preset's)"),
    vision: {
      imageSize: int(0, 0, "input resolution (0 = the preset's)"),
      patchSize: int(0, 0, "ViT patch size (0 = the preset's)"),
      width: int(0, 0, "vision width (0 = the preset's)"),
      layers: {
        kind: 'int|ints',
        min: 0,
        ...base<number | number[]>(0, "ViT blocks, or ResNet bottlenecks per stage as 3,4,6,3 (0 = the preset's)", {}),
      } as Field<number | number[]>,
      heads: int(0, 0, "vision attention heads (0 = the preset's head width)"),
    },
    text: {
      width: int(0, 0, "text width (0 = the preset's)"),
      layers: int(0, 0, "text blocks (0 = the preset's)"),
      heads: int(0, 0, "text attention heads (0 = the preset's head width)"),
    },
    normalisation: oneOf(['imagenet', 'openai'], 'imagenet', 'pixel statistics of the views (the seed: ImageNet)'),
    bnGhostSize: int(128, 0, 'ResNet BN statistics per chunk of N samples (the seed: per-GPU 128); 0 = per pass'),
  },
  text: {
    variant: oneOf(['declip', 'openai'], 'declip', "tokenizer: 'declip' = OpenAI BPE + <|mask|>, 'openai'"),
    vocabPath: str('', "BPE vocab (.txt.gz); '' = the default (or CLIP_BENCH_VOCAB)"),
    contextLength: int(77, 2, 'tokens per caption, SOT and EOT included'),
  },
  supervision: {
    name: oneOf(supervisionNames, 'clip', 'the supervision method; --supervision NAME starts from its own defaults'),
    options: {
      kind: 'record',
      ...base<Record<string, unknown>>({}, "the method's options (JSON), e.g. '{\"queueSize\":4096}'", {}),
    } as Field<Record<string, unknown>>,
  },
  optim: {
    batchSize: int(4096, 1, 'global batch (all ranks together)'),
    microBatchSize: int(128, 0, 'gradient-cache micro-batch (0 or >= batchSize: the whole batch at once)'),
    steps: int(128001, 0, 'stop after this step in this run (the schedule follows optim.totalSteps)', {
      resumable: true,
    }),
    baseLr: num(1e-4, { min: 0 }, 'learning rate at step 1 (warm-up start)'),
    peakLr: num(1e-3, { min: 0, exclusiveMin: true }, 'learning rate after warm-up'),
    warmupSteps: int(2500, 0, 'linear warm-up steps'),
    totalSteps: int(128001, 1, 'length of the warm-up + cosine schedule'),
    minLr: num(0, { min: 0 }, 'learning rate at the end of the cosine'),
    beta1: num(0.9, { min: 0, max: 1 }, 'AdamW beta1'),
    beta2: num(0.98, { min: 0, max: 1 }, 'AdamW beta2'),
    eps: num(1e-8, { min: 0, exclusiveMin: true }, 'AdamW epsilon'),
    weightDecay: num(0.1, { min: 0 }, 'AdamW weight decay (not on norms, biases, logit scales)'),
    nanPolicy: oneOf(
      ['stop', 'rollback'],
      'rollback',
      'on a non-finite loss: stop naming the step, or roll back to the last checkpoint',
    ),
    rollbackLrFactor: num(0.997, { min: 0, exclusiveMin: true, max: 1 }, 'lr factor applied at each rollback'),
    maxRollbacks: int(10, 0, 'rollbacks allowed before the run stops', { resumable: true }),
  },
  eval: {
    every: int(2000, 0, 'evaluate every N steps (0 = not during training)', { resumable: true }),
    atStart: bool(false, 'evaluate the untrained model too (recorded as step 0)', { resumable: true }),
    atEnd: bool(true, 'evaluate after the last step', { resumable: true }),
    evaluate: {
      kind: 'function|null',
      ...base<EvaluateHook | null>(null, 'a custom evaluation hook (declarations only)', {}),
    } as Field<EvaluateHook | null>,
    shards: str('', 'zero-shot evaluation shards with .cls labels (used when eval.evaluate is null)'),
    prompts: str('', 'classnames-and-templates JSON for eval.shards'),
    dataset: str('imagenet1k', 'the dataset key in eval.prompts', { nonEmpty: true }),
  },
  checkpoint: {
    every: int(200, 0, 'save every N steps (0 = only at the end and on SIGINT/SIGTERM)', { resumable: true }),
    keep: int(3, 1, 'keep the newest K checkpoints', { resumable: true }),
    resume: str('', "'' = a new run, 'latest' = the newest intact checkpoint of the run directory, or a directory", {
      resumable: true,
    }),
    onSignal: bool(true, 'save a checkpoint when SIGINT/SIGTERM stops the run', { resumable: true }),
  },
  logging: {
    out: str('runs/default', 'run directory: run.json, metrics.jsonl, TensorBoard event files, checkpoints/', {
      nonEmpty: true,
      resumable: true,
    }),
    replace: bool(false, 'a new run discards the run already in logging.out (instead of refusing to start)', {
      resumable: true,
    }),
    progress: oneOf(['auto', 'bar', 'plain', 'none'], 'auto', "'auto' = a bar on a terminal, plain lines otherwise", {
      resumable: true,
    }),
    every: int(10, 1, 'plain progress line every N steps', { resumable: true }),
  },
  backend: {
    name: oneOf(['auto', 'tensorflow', 'wasm', 'cpu'] as const satisfies readonly BackendChoice[], 'auto', 'backend', {
      resumable: true,
    }),
    threads: int(0, 0, 'wasm threads (0 = one per core)', { resumable: true }),
  },
  distributed: {
    nnQueue: oneOf(
      ['global', 'per-rank'],
      'global',
      "DeCLIP NN queue under MPI: 'global' = every rank enqueues the gathered batch, 'per-rank' = as the seed",
    ),
    bnBuffers: oneOf(['mean', 'rank0'], 'mean', "BN running statistics under MPI: 'mean' over ranks, or rank 0's"),
    bucketMb: num(25, { min: 0, exclusiveMin: true }, 'gradient all-reduce bucket size in MiB', { resumable: true }),
  },
} as const satisfies Schema;

// ---- derived: the type, the defaults -----------------------------------------------------------------------------

type Infer<S> = S extends FieldBase<infer T> ? T : { -readonly [K in keyof S]: Infer<S[K]> };

/** A complete (validated) declaration. */
export type PipelineDeclaration = Infer<typeof declarationSchema>;

/** A declaration written by hand may leave out any field that has a default. */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends (...a: any[]) => any
    ? T[K]
    : T[K] extends readonly unknown[]
      ? T[K]
      : T[K] extends object
        ? DeepPartial<T[K]>
        : T[K];
};

export const isField = (x: Field<any> | Schema): x is Field<any> => typeof (x as { kind?: unknown }).kind === 'string';

function defaultsOf(schema: Schema): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(schema).flatMap(([k, v]) =>
      isField(v) ? (v.default === undefined ? [] : [[k, v.default]]) : [[k, defaultsOf(v)]],
    ),
  );
}

/** Every default (the seed's CLIP recipe); `name` has none. */
export const defaults = defaultsOf(declarationSchema) as Omit<PipelineDeclaration, 'name'>;
