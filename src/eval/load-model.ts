// Load a model for evaluation from `--weights`: a safetensors file, a training run's checkpoint directory or a run
// directory (its newest checkpoint), with the tokenizer and the image normalisation it was trained with.
//
// A clip-bench file records its model (src/weights/model-record.ts): the exact architecture, the tokenizer (variant,
// context length, the vocabulary file's path and sha256) and the normalisation; evaluation uses them, and a flag
// (--vocab, --variant, --normalize, --vision-heads, --text-heads) overrides one only when given, saying so.
// A foreign file (OpenAI, open_clip, DeCLIP) carries none of that: the architecture is inferred from the shapes and
// what is assumed (head counts, tokenizer variant, normalisation) is said as a warning.
import { stat, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadClipWeights } from '../weights/clip-weights.ts';
import { describeConfig, type ModelRecord, type TokenizerRecord } from '../weights/model-record.ts';
import { loadTokenizer, type ClipTokenizer, type TokenizerVariant } from '../tokenizer/clip-tokenizer.ts';
import { OPENAI_VOCAB_SHA256 } from '../tokenizer/vocab-file.ts';
import { normalisations, type NormalizeStats } from '../image/presets.ts';
import type { ClipModel } from '../models/clip.ts';
import { readSafetensors } from '../weights/safetensors.ts';
import { importStateDict } from '../weights/openai-names.ts';
import { createSupervision, type DenseScorer } from '../supervision/index.ts';
import { Rng } from '../rng.ts';

/** The safetensors file behind `--weights` (a file, a checkpoint directory, or a run directory's latest checkpoint). */
export async function resolveWeightsFile(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new Error(`--weights: ${path} does not exist`);
  if (info.isFile()) return path;
  const pick = (names: string[]) =>
    names.includes('model.safetensors') ? 'model.safetensors' : names.sort().find((e) => e.endsWith('.safetensors'));
  const direct = pick(await readdir(path));
  if (direct) return join(path, direct);
  // A run directory: checkpoints/<step>/ with the newest last.
  for (const sub of ['checkpoints', '.']) {
    const dir = join(path, sub);
    const children = await readdir(dir).catch(() => [] as string[]);
    for (const child of children.sort().reverse()) {
      const found = pick(await readdir(join(dir, child)).catch(() => [] as string[]));
      if (found) return join(dir, child, found);
    }
  }
  throw new Error(`--weights: no .safetensors file in ${path} (expected a weights file or a checkpoint directory)`);
}

/**
 * FILIP's token mappings (`image_mapping`, `text_mapping`) read from the weights file into the model's store, for
 * dense zero-shot scoring; a one-line error when the file holds no FILIP heads.
 */
export async function loadDenseScorer(model: ClipModel, weightsFile: string): Promise<DenseScorer> {
  const file = await readSafetensors(weightsFile);
  const bias = file.tensors.get('image_mapping.bias');
  if (!bias || !file.tensors.has('text_mapping.weight'))
    throw new Error(
      `--dense: ${weightsFile} has no FILIP token mappings (image_mapping.*, text_mapping.*): it was not trained with FILIP or DeFILIP`,
    );
  const filip = createSupervision('filip', { denseDim: bias.shape[0] });
  filip.addHeads(model, new Rng(0));
  importStateDict(model.store, file.tensors, {
    allowMissing: (name) => !name.startsWith('image_mapping.') && !name.startsWith('text_mapping.'),
  });
  return filip.dense!;
}

export type NormalisationName = keyof typeof normalisations;

export interface EvalModelOptions {
  weights: string;
  /** Overrides: each replaces what the file records (or what would be guessed for a foreign file). */
  vocab?: string;
  variant?: TokenizerVariant;
  normalize?: NormalisationName;
  visionHeads?: number;
  textHeads?: number;
  /** Load a file that holds tensors beyond the model and known method heads. */
  allowUnexpected?: boolean;
}

/** A line for the user: where a setting came from. 'guess' and 'override' lines should always be shown. */
export interface LoadNote {
  kind: 'recorded' | 'guess' | 'override';
  text: string;
}

export interface EvalModel {
  model: ClipModel;
  tokenizer: ClipTokenizer;
  weightsFile: string;
  normalisation: { name: NormalisationName; stats: NormalizeStats };
  /** What the file records (empty for foreign files). */
  record: Partial<ModelRecord>;
  notes: LoadNote[];
}

const short = (sha: string) => sha.slice(0, 12);

/** The vocabulary file to load for a recorded tokenizer, or a one-line error saying how to provide it. */
function recordedVocab(rec: TokenizerRecord, weightsFile: string): string | undefined {
  if (/^[a-z]+:\/\//i.test(rec.vocab) || existsSync(rec.vocab)) return rec.vocab;
  // OpenAI's file is found by the default look-up (CLIP_BENCH_VOCAB, the download cache, the reference data)
  if (rec.vocabSha256 === OPENAI_VOCAB_SHA256) return undefined;
  throw new Error(
    `${weightsFile} was trained with the vocabulary ${rec.vocab} (sha256 ${short(rec.vocabSha256)}..., ${rec.vocabBytes} bytes), which is not there: pass --vocab PATH`,
  );
}

export async function loadEvalModel(o: EvalModelOptions): Promise<EvalModel> {
  const weightsFile = await resolveWeightsFile(o.weights);
  const loaded = await loadClipWeights(weightsFile, {
    heads: { vision: o.visionHeads, text: o.textHeads },
    allowUnexpected: o.allowUnexpected,
  });
  const { model, record } = loaded;
  const notes: LoadNote[] = [];
  try {
    const config = model.config;
    if (loaded.inferred) {
      notes.push({
        kind: 'guess',
        text:
          `${weightsFile} records no architecture: inferred from the tensor shapes (${describeConfig(config)})` +
          (loaded.guesses.length
            ? `; GUESSED ${loaded.guesses.join(', ')}: pass --vision-heads/--text-heads if the model has others`
            : ''),
      });
    } else notes.push({ kind: 'recorded', text: `model from ${weightsFile}: ${describeConfig(config)}` });
    for (const [flag, given, recorded] of [
      ['--vision-heads', o.visionHeads, record.config?.vision.heads],
      ['--text-heads', o.textHeads, record.config?.text.heads],
    ] as const)
      if (given !== undefined && recorded !== undefined && given !== recorded)
        notes.push({ kind: 'override', text: `${flag} ${given} overrides the checkpoint's ${recorded} heads` });
    if (loaded.unexpected.length)
      notes.push({ kind: 'override', text: `--allow-unexpected: ignored ${loaded.unexpected.length} tensor(s)` });

    // tokenizer: variant, context length and vocabulary as recorded
    const rec = record.tokenizer;
    const guessedVariant: TokenizerVariant = config.text.vocabSize === 49409 ? 'declip' : 'openai';
    const variant = o.variant ?? rec?.variant ?? guessedVariant;
    if (o.variant && rec && o.variant !== rec.variant)
      notes.push({ kind: 'override', text: `--variant ${o.variant} overrides the checkpoint's ${rec.variant}` });
    if (!o.variant && !rec)
      notes.push({
        kind: 'guess',
        text: `tokenizer variant ${variant} guessed from the vocabulary size ${config.text.vocabSize} (--variant to change)`,
      });
    const vocabPath = o.vocab ?? (rec ? recordedVocab(rec, weightsFile) : undefined);
    const tokenizer = await loadTokenizer({ vocabPath, variant, contextLength: config.text.contextLength });
    const got = tokenizer.vocabFile;
    if (rec && got.sha256 !== rec.vocabSha256) {
      if (!o.vocab)
        throw new Error(
          `${weightsFile} was trained with the vocabulary ${rec.vocab} (sha256 ${short(rec.vocabSha256)}...), but ${got.source} has sha256 ${short(got.sha256)}...: pass --vocab with the training vocabulary`,
        );
      notes.push({
        kind: 'override',
        text: `--vocab ${o.vocab} (sha256 ${short(got.sha256)}...) overrides the checkpoint's vocabulary ${rec.vocab} (sha256 ${short(rec.vocabSha256)}...)`,
      });
    }
    if (tokenizer.vocabSize !== config.text.vocabSize)
      throw new Error(
        `the vocabulary has ${tokenizer.vocabSize} ids but the weights' token embedding has ${config.text.vocabSize}: pass the vocab the model was trained with (--vocab PATH${variant === 'openai' ? ', or --variant declip' : ''}; read ${got.source})`,
      );
    if (rec)
      notes.push({
        kind: 'recorded',
        text: `tokenizer from the checkpoint: ${tokenizer.variant}, context ${tokenizer.contextLength}, vocabulary ${got.source} (sha256 ${short(got.sha256)}...)`,
      });

    // normalisation as recorded; OpenAI's statistics for foreign weights (the files this path is for)
    let normalisation: EvalModel['normalisation'];
    if (o.normalize) {
      normalisation = { name: o.normalize, stats: normalisations[o.normalize] };
      if (record.normalisation && record.normalisation.name !== o.normalize)
        notes.push({
          kind: 'override',
          text: `--normalize ${o.normalize} overrides the checkpoint's ${record.normalisation.name} normalisation`,
        });
    } else if (record.normalisation) {
      const { name, mean, std } = record.normalisation;
      normalisation = { name, stats: { mean, std } };
      notes.push({ kind: 'recorded', text: `image normalisation from the checkpoint: ${name}` });
    } else {
      normalisation = { name: 'openai', stats: normalisations.openai };
      notes.push({
        kind: 'guess',
        text: `${weightsFile} records no image normalisation: using OpenAI's statistics (--normalize imagenet to change)`,
      });
    }
    return { model, tokenizer, weightsFile, normalisation, record, notes };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
