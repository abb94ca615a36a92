// Load a whole CLIP model from a safetensors file, and save one.
// Loading uses the file's clip-bench record (model-record.ts) when it has one; otherwise the architecture is inferred
// from the tensor shapes and what had to be guessed (head counts) is returned. Either way the file must hold exactly
// the model: every tensor the architecture needs, and nothing else but known method heads (DeCLIP/SLIP/FILIP), unless
// `allowUnexpected` is set. Each problem is one line naming the file and the tensors.
import type { Rng } from '../rng.ts';
import { deriveRng } from '../rng.ts';
import { ParamStore } from '../nn/params.ts';
import { createClip } from '../models/clip.ts';
import type { ClipModel } from '../models/clip.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';
import { importStateDict, exportStateDict, isMethodHead, listNames } from './openai-names.ts';
import { inferClipConfig, type InferOptions } from './infer-config.ts';
import { describeConfig, modelRecordMetadata, readModelRecord, type ModelRecord } from './model-record.ts';

export interface LoadedClip {
  model: ClipModel;
  /** What the file records (config, tokenizer, normalisation); empty for foreign files. */
  record: Partial<ModelRecord>;
  /** True when the architecture came from the tensor shapes (no recorded config). */
  inferred: boolean;
  /** What shape inference assumed (head counts); empty when the file records its config. */
  guesses: string[];
  /** Method-head tensors present in the file but not part of the CLIP (canonical names). */
  heads: string[];
  /** Other tensors the model does not use (only when allowUnexpected). */
  unexpected: string[];
}

export interface LoadOptions extends InferOptions {
  rng?: Rng;
  /** Accept tensors that are neither the model's nor known method heads (reported in `unexpected`). */
  allowUnexpected?: boolean;
}

export async function loadClipWeights(path: string, opts: LoadOptions = {}): Promise<LoadedClip> {
  const file = await readSafetensors(path);
  const record = readModelRecord(file.metadata, path);
  let config = record.config;
  let guesses: string[] = [];
  if (config) {
    // heads given by the caller override the record (the caller says so); nothing else is guessed
    if (opts.heads?.vision !== undefined)
      config = { ...config, vision: { ...config.vision, heads: opts.heads.vision } };
    if (opts.heads?.text !== undefined) config = { ...config, text: { ...config.text, heads: opts.heads.text } };
    if (opts.freezePatchEmbedding !== undefined && config.vision.type === 'vit')
      config = { ...config, vision: { ...config.vision, freezePatchEmbedding: opts.freezePatchEmbedding } };
  } else {
    try {
      ({ config, guesses } = inferClipConfig(file.tensors, opts));
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`);
    }
  }
  const model = createClip(config, new ParamStore(), opts.rng ?? deriveRng('weights-init', path));
  try {
    // BN num_batches_tracked is absent in some exports; it only counts updates, so default to 0.
    const { unused } = importStateDict(model.store, file.tensors, {
      allowMissing: (n) => n.endsWith('.num_batches_tracked'),
    });
    const heads = unused.filter(isMethodHead);
    const unexpected = unused.filter((n) => !isMethodHead(n));
    if (unexpected.length && !opts.allowUnexpected)
      throw new Error(
        `weights: ${unexpected.length} tensor(s) are not part of the ${record.config ? 'recorded' : 'inferred'} architecture (${describeConfig(config)}): ${listNames(unexpected)}`,
      );
    return { model, record, inferred: !record.config, guesses, heads, unexpected };
  } catch (e) {
    model.dispose();
    const message = (e as Error).message.replace(/^weights: /, '');
    const arch = message.includes('lacks')
      ? ` (${record.config ? 'recorded' : 'inferred from the shapes'}: ${describeConfig(config)})`
      : '';
    throw new Error(`${path}: ${message}${arch}`);
  }
}

/**
 * Write the model's parameters with OpenAI names and PyTorch layouts, and its record (the exact config always; the
 * tokenizer and normalisation when given) in the metadata.
 */
export async function saveClipWeights(
  model: ClipModel,
  path: string,
  filter?: (name: string) => boolean,
  record: Omit<Partial<ModelRecord>, 'config'> = {},
): Promise<void> {
  await writeSafetensors(path, exportStateDict(model.store, filter), {
    ...modelRecordMetadata({ ...record, config: model.config }),
    format: 'pt',
  });
}
