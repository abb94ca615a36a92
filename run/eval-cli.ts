// The options every evaluation pipeline shares (weights, data, vocab, normalisation, batch size, output), parsed
// once, with one-line errors, and the model + tokenizer they name. The model, its tokenizer and its image
// normalisation come from what the checkpoint records; --vocab, --variant, --normalize, --vision-heads and
// --text-heads override one of them when given, and every override or guess is said on stderr.
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { initBackend } from '../src/backend.ts';
import type { BackendChoice } from '../src/backend.ts';
import { loadEvalModel, type LoadNote, type NormalisationName } from '../src/eval/load-model.ts';
import type { NormalizeStats } from '../src/image/presets.ts';
import type { ClipModel } from '../src/models/clip.ts';
import type { ClipTokenizer, TokenizerVariant } from '../src/tokenizer/clip-tokenizer.ts';
import type { BenchmarkResult, EvalTask } from '../src/eval/results.ts';

const common = {
  weights: { type: 'string' },
  data: { type: 'string' },
  dataset: { type: 'string' },
  vocab: { type: 'string' },
  variant: { type: 'string' },
  normalize: { type: 'string' },
  'vision-heads': { type: 'string' },
  'text-heads': { type: 'string' },
  'allow-unexpected': { type: 'boolean', default: false },
  'batch-size': { type: 'string', default: '256' },
  out: { type: 'string', default: 'results' },
  'model-name': { type: 'string' },
  pretrained: { type: 'string' },
  backend: { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const;

/** How --weights is read, for the usage text of every command that loads weights. */
export const weightsUsage = `--weights: a run directory, a checkpoint directory or a weights file. A clip-bench checkpoint records its
           architecture, tokenizer and image normalisation, and they are used; --vocab, --variant, --normalize,
           --vision-heads N, --text-heads N override one and say so. For other files (OpenAI, open_clip, DeCLIP
           names) the architecture is inferred from the shapes and every guess is printed. --allow-unexpected
           loads a file holding tensors beyond the model and known method heads.`;

type Extra = Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>;

export interface EvalSetup {
  values: Record<string, string | boolean | undefined>;
  datasetName: string;
  /** The image normalisation: the checkpoint's, unless --normalize overrides it. */
  normalisation: NormalisationName;
  stats: NormalizeStats;
  batchSize: number;
  model: ClipModel;
  tokenizer: ClipTokenizer;
  weightsFile: string;
  quiet: boolean;
  /** The method the checkpoint was trained with, when it records one. */
  supervision?: string;
  /** The CLIP_benchmark-shaped record for this run's metrics. */
  record(task: EvalTask, metrics: Record<string, number>, extra?: Record<string, unknown>): BenchmarkResult;
}

export function positiveInt(name: string, value: string | boolean | undefined): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

export async function setupEval(argv: string[], extra: Extra = {}, dataHelp = 'a dataset'): Promise<EvalSetup> {
  const { values } = parseArgs({
    args: argv,
    options: { ...common, ...extra } as Extra,
    strict: true,
    allowNegative: true,
  });
  if (!values.weights) throw new Error('--weights is required (a .safetensors file or a checkpoint directory)');
  if (!values.data) throw new Error(`--data is required (${dataHelp})`);
  const data = String(values.data);
  const datasetName = (values.dataset as string | undefined) ?? basename(data.replace(/\/+$/, ''));
  const batchSize = positiveInt('batch-size', values['batch-size']);
  const quiet = values.quiet === true;
  await initBackend({ backend: values.backend as BackendChoice | undefined, quiet });
  const { model, tokenizer, weightsFile, normalisation, record, notes } = await loadEvalModel(loadOptions(values));
  reportLoadNotes(notes, quiet);
  const modelName = (values['model-name'] as string | undefined) ?? describeModel(model);
  const pretrained = (values.pretrained as string | undefined) ?? basename(weightsFile).replace(/\.safetensors$/, '');
  return {
    values,
    datasetName,
    normalisation: normalisation.name,
    stats: normalisation.stats,
    batchSize,
    model,
    tokenizer,
    weightsFile,
    quiet,
    ...(record.supervision ? { supervision: record.supervision } : {}),
    record: (task, metrics, more = {}) => ({
      dataset: datasetName,
      model: modelName,
      pretrained,
      task,
      metrics,
      language: 'en',
      ...more,
    }),
  };
}

/** The loading flags every command that loads weights shares (evaluation pipelines, embed), checked. */
export function loadOptions(values: Record<string, string | boolean | undefined>): Parameters<typeof loadEvalModel>[0] {
  const normalize = values.normalize as string | undefined;
  if (normalize !== undefined && normalize !== 'openai' && normalize !== 'imagenet')
    throw new Error(`--normalize must be openai or imagenet, got ${normalize}`);
  const variant = values.variant as string | undefined;
  if (variant !== undefined && variant !== 'openai' && variant !== 'declip')
    throw new Error(`--variant must be openai or declip, got ${variant}`);
  const heads = (flag: string) => (values[flag] === undefined ? undefined : positiveInt(flag, values[flag]));
  return {
    weights: String(values.weights),
    vocab: values.vocab as string | undefined,
    variant: variant as TokenizerVariant | undefined,
    normalize: normalize as NormalisationName | undefined,
    visionHeads: heads('vision-heads'),
    textHeads: heads('text-heads'),
    allowUnexpected: values['allow-unexpected'] === true,
  };
}

/** Print where the model's settings came from on stderr: guesses and overrides always, the recorded ones unless quiet. */
export function reportLoadNotes(notes: LoadNote[], quiet: boolean): void {
  for (const n of notes)
    if (n.kind !== 'recorded' || !quiet)
      process.stderr.write(`[weights] ${n.kind === 'guess' ? 'WARNING: ' : ''}${n.text}\n`);
}

function describeModel(model: ClipModel): string {
  const v = model.config.vision;
  return v.type === 'vit' ? `vit-p${v.patchSize}-w${v.width}-${v.imageSize}px` : `rn-w${v.width}-${v.imageSize}px`;
}

/** Run a pipeline's main() from the command line: one-line error, exit code 1, backend shut down. */
export async function runCli(name: string, main: () => Promise<unknown>, shutdown: () => void): Promise<void> {
  try {
    await main();
  } catch (e) {
    console.error(`${name}: ${(e as Error).message}`);
    process.exitCode = 1;
  } finally {
    shutdown();
  }
}
