// Load a model for evaluation from `--weights`: a safetensors file (OpenAI/open_clip names, architecture
// inferred from the shapes), or a training run's checkpoint directory (its weights file), plus the tokenizer
// that matches the weights' vocabulary and context length.
import { stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadClipWeights } from '../weights/clip-weights.ts';
import { loadTokenizer, type ClipTokenizer, type TokenizerVariant } from '../tokenizer/clip-tokenizer.ts';
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
  const entries = (await readdir(path)).sort();
  const direct = entries.find((e) => e.endsWith('.safetensors'));
  if (direct) return join(path, direct);
  // A run directory: checkpoints/<step>/ with the newest last.
  for (const sub of ['checkpoints', '.']) {
    const dir = join(path, sub);
    const children = await readdir(dir).catch(() => [] as string[]);
    for (const child of children.sort().reverse()) {
      const inner = await readdir(join(dir, child)).catch(() => [] as string[]);
      const found = inner.find((e) => e.endsWith('.safetensors'));
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
      `--dense: ${weightsFile} has no FILIP token mappings (image_mapping.*, text_mapping.*): it was not ` +
        `trained with FILIP or DeFILIP`,
    );
  const filip = createSupervision('filip', { denseDim: bias.shape[0] });
  filip.addHeads(model, new Rng(0));
  importStateDict(model.store, file.tensors, {
    allowMissing: (name) => !name.startsWith('image_mapping.') && !name.startsWith('text_mapping.'),
  });
  return filip.dense!;
}

export async function loadEvalModel(options: {
  weights: string;
  vocab?: string;
  variant?: TokenizerVariant;
}): Promise<{ model: ClipModel; tokenizer: ClipTokenizer; weightsFile: string }> {
  const weightsFile = await resolveWeightsFile(options.weights);
  const { model } = await loadClipWeights(weightsFile);
  const text = model.config.text;
  const variant = options.variant ?? (text.vocabSize === 49409 ? 'declip' : 'openai');
  const tokenizer = await loadTokenizer({ vocabPath: options.vocab, variant, contextLength: text.contextLength });
  if (tokenizer.vocabSize !== text.vocabSize) {
    model.dispose();
    throw new Error(
      `the vocabulary has ${tokenizer.vocabSize} ids but the weights' token embedding has ${text.vocabSize}: ` +
        `pass the vocab the model was trained with (--vocab ` +
        `PATH${variant === 'openai' ? ', or --variant declip' : ''})`,
    );
  }
  return { model, tokenizer, weightsFile };
}
