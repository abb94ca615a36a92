// BERT-style masked-language-model corruption as DeCLIP applies it to a framed caption (SOT..EOT + padding):
// each non-special token (special = SOT, EOT, MASK; positions after the first EOT are padding and never chosen)
// is selected with probability 0.15; a selected token becomes MASK with probability 0.8, a uniformly random id
// in [0, vocabSize) with 0.1, and stays unchanged with 0.1. labels = original id at selected positions, -100 elsewhere.
import type { Rng } from '../rng.ts';

export interface MaskVocabulary {
  sot: number;
  eot: number;
  mask: number | undefined;
  vocabSize: number;
}

export interface MlmOptions {
  probability?: number; // 0.15
  maskFraction?: number; // 0.8
  randomFraction?: number; // 0.1
}

export const IGNORE_INDEX = -100;

export function maskTokens(
  ids: Int32Array,
  tokenizer: MaskVocabulary,
  rng: Rng,
  options: MlmOptions = {},
): { ids: Int32Array; labels: Int32Array } {
  const mask = tokenizer.mask;
  if (mask === undefined) throw new Error('maskTokens needs a tokenizer with a <|mask|> token (variant "declip")');
  const p = options.probability ?? 0.15;
  const maskFraction = options.maskFraction ?? 0.8;
  const randomFraction = options.randomFraction ?? 0.1;
  const out = Int32Array.from(ids);
  const labels = new Int32Array(ids.length).fill(IGNORE_INDEX);
  let end = ids.indexOf(tokenizer.eot);
  if (end < 0) end = ids.length;
  for (let i = 0; i < end; i++) {
    const id = ids[i];
    if (id === tokenizer.sot || id === mask) continue;
    if (!rng.bernoulli(p)) continue;
    labels[i] = id;
    const r = rng.random();
    if (r < maskFraction) out[i] = mask;
    else if (r < maskFraction + randomFraction) out[i] = rng.int(tokenizer.vocabSize);
  }
  return { ids: out, labels };
}
