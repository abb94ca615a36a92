// The pipeline declaration: ONE plain object that says everything a training run needs (data, model,
// supervision, optimiser + schedule, evaluation, checkpointing, logging, backend). The runner validates it
// (run/validate.ts), applies command-line overrides (run/cli.ts) and wires the stages from it
// (run/runner.ts). The five YFCC-15M pipelines differ only in `supervision` and the optimiser numbers.
import type { BackendChoice } from '../src/backend.ts';
import type { SupervisionName } from '../src/supervision/index.ts';

/** What the runner hands an evaluation hook (called every `eval.every` steps and at the end). */
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
/** Returns named scalar results (e.g. { 'demo/top1': 0.41 }); they go to metrics.jsonl as an eval record.
 *  `validate`, when present, checks the hook's settings (files, prompts); the runner calls it before training. */
export type EvaluateHook = ((ctx: EvaluateContext) => Promise<Record<string, number>>) & {
  validate?: () => Promise<void>;
};

export interface DataDeclaration {
  /** WebDataset shard spec (`dir/train-{000000..000099}.tar`, `::` joins lists); '' = take it from `env`. */
  shards: string;
  /** Environment variable consulted when `shards` is empty (e.g. CLIP_BENCH_YFCC15M). */
  env: string;
  /** One line printed when there is no data (how to get or make the shards). */
  missingHint: string;
  /** Passes over the shards; 'endless' = iteration-based training as the seed's sampler. */
  epochs: number | 'endless';
  captionExtension: string;
  /** Images decoded in flight (sharp uses the libuv pool; 4-8 saturate two cores). */
  decodeConcurrency: number;
}

export interface ModelDeclaration {
  /** A preset name from src/models/presets.ts (vit-b32, rn50, tiny ...). */
  preset: string;
  /** Fields changed on top of the preset; 0 = the preset's (heads: follow the width at the preset's head width). */
  embedDim: number;
  vision: {
    imageSize: number;
    patchSize: number;
    width: number;
    /** ViT: blocks; ResNet: bottlenecks per stage, four numbers (`--model.vision.layers 3,4,6,3`). */
    layers: number | number[];
    heads: number;
  };
  text: { width: number; layers: number; heads: number };
  /** Pixel normalisation of the views: the seed uses ImageNet statistics. */
  normalisation: 'imagenet' | 'openai';
  /** ResNet batch-norm statistics per chunk of N samples ("ghost" BN = the seed's per-GPU BN over 128); 0 = per forward pass. */
  bnGhostSize: number;
}

export interface TextDeclaration {
  /** 'declip' = OpenAI BPE + <|mask|> (vocab 49409); 'openai' = vocab 49408. */
  variant: 'declip' | 'openai';
  /** BPE vocab (.txt.gz); '' = the tokenizer's default (or CLIP_BENCH_VOCAB). */
  vocabPath: string;
  contextLength: number;
}

export interface OptimDeclaration {
  /** Global batch (4096 in the seed). */
  batchSize: number;
  /** Gradient-cache micro-batch (0, or >= batchSize = the whole batch at once). */
  microBatchSize: number;
  /** Stop after this step in this run (the schedule still uses totalSteps). */
  steps: number;
  baseLr: number;
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  minLr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** On a non-finite loss: stop naming the step, or roll back to the last checkpoint with lr x rollbackLrFactor (DeCLIP solver). */
  nanPolicy: 'stop' | 'rollback';
  rollbackLrFactor: number;
  maxRollbacks: number;
}

export interface EvalDeclaration {
  /** Evaluate every N steps (0 = never during training). */
  every: number;
  atEnd: boolean;
  /** A custom hook; when null and `shards` is set, zero-shot classification on those shards is used. */
  evaluate: EvaluateHook | null;
  /** Zero-shot evaluation set: shards with .cls labels ('' = none), a classnames-and-templates JSON, the dataset key in it. */
  shards: string;
  prompts: string;
  dataset: string;
}

export interface CheckpointDeclaration {
  /** Save every N steps (0 = only at the end and on SIGINT/SIGTERM). */
  every: number;
  /** Keep the last K checkpoints. */
  keep: number;
  /** '' = start fresh, 'latest' = the newest checkpoint under <out>/checkpoints (fresh if none), or a checkpoint directory. */
  resume: string;
  /** Save a checkpoint when SIGINT/SIGTERM arrives, then exit. */
  onSignal: boolean;
}

export interface LoggingDeclaration {
  /** Run directory: metrics.jsonl, checkpoints/, report/. */
  out: string;
  /** 'auto' = a bar with ETA on a TTY, plain lines otherwise. */
  progress: 'auto' | 'bar' | 'plain' | 'none';
  /** Plain-line period in steps. */
  every: number;
}

/** Data-parallel options, used when the pipeline is launched by mpirun/srun with more than one rank (docs/distributed.md). */
export interface DistributedDeclaration {
  /** DeCLIP/DeFILIP NN queue: 'global' = every rank enqueues the gathered batch (identical queues, = one process with the
   *  global batch); 'per-rank' = each rank enqueues its local rows (the seed's one queue per GPU). */
  nnQueue: 'global' | 'per-rank';
  /** BN running statistics: 'mean' over ranks after each step (training statistics stay local per rank), or rank 0's ('rank0'). */
  bnBuffers: 'mean' | 'rank0';
  /** Gradient all-reduce bucket size in MiB. */
  bucketMb: number;
}

export interface PipelineDeclaration {
  name: string;
  seed: number;
  data: DataDeclaration;
  model: ModelDeclaration;
  text: TextDeclaration;
  supervision: { name: SupervisionName; options: Record<string, unknown> };
  optim: OptimDeclaration;
  eval: EvalDeclaration;
  checkpoint: CheckpointDeclaration;
  logging: LoggingDeclaration;
  backend: { name: BackendChoice; threads: number };
  distributed: DistributedDeclaration;
}

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

/** Defaults = the seed's recipe for CLIP (the pipelines override supervision and the optimiser numbers). */
export const defaults: Omit<PipelineDeclaration, 'name'> = {
  seed: 0,
  data: {
    shards: '',
    env: '',
    missingHint: 'no training data: pass --data SHARD_SPEC',
    epochs: 'endless',
    captionExtension: 'txt',
    decodeConcurrency: 6,
  },
  model: {
    preset: 'vit-b32',
    embedDim: 0,
    vision: { imageSize: 0, patchSize: 0, width: 0, layers: 0, heads: 0 },
    text: { width: 0, layers: 0, heads: 0 },
    normalisation: 'imagenet',
    bnGhostSize: 128,
  },
  text: { variant: 'declip', vocabPath: '', contextLength: 77 },
  supervision: { name: 'clip', options: {} },
  optim: {
    batchSize: 4096,
    microBatchSize: 128,
    steps: 128001,
    baseLr: 1e-4,
    peakLr: 1e-3,
    warmupSteps: 2500,
    totalSteps: 128001,
    minLr: 0,
    beta1: 0.9,
    beta2: 0.98,
    eps: 1e-8,
    weightDecay: 0.1,
    nanPolicy: 'rollback',
    rollbackLrFactor: 0.997,
    maxRollbacks: 10,
  },
  eval: { every: 2000, atEnd: true, evaluate: null, shards: '', prompts: '', dataset: 'imagenet1k' },
  checkpoint: { every: 200, keep: 3, resume: '', onSignal: true },
  logging: { out: 'runs/default', progress: 'auto', every: 10 },
  backend: { name: 'auto', threads: 0 },
  distributed: { nnQueue: 'global', bnBuffers: 'mean', bucketMb: 25 },
};
