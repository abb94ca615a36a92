// The text views a supervision asks for, computed from one caption (no streams; stages/text/tokenize-views.ts is the
// stage):
//   raw  = framed ids of the caption;
//   eda  = framed ids of DeCLIP's EDA of the caption (one of SR/RS/RD, eda.ts);
//   mlm  = the raw ids with MLM corruption (mlm.ts), mlmLabels = original ids at corrupted positions, -100 elsewhere.
// Randomness is derived per (seed, epoch, sample key, view): deriveRng(seed, epoch, key, 'eda' | 'mlm'), so a
// sample gets the same views in a resumed run and different ones in the next epoch.
// A caption member with several non-empty lines holds alternative captions: one line is chosen per epoch with
// deriveRng(seed, epoch, key, 'caption').
import { deriveRng } from '../rng.ts';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { declipEda, type SynonymSource } from './eda.ts';
import { maskTokens } from './mlm.ts';

export type TextView = 'raw' | 'eda' | 'mlm';
export interface TextViews {
  raw?: Int32Array;
  eda?: Int32Array;
  mlm?: Int32Array;
  mlmLabels?: Int32Array;
}

export interface TextViewOptions {
  tokenizer: ClipTokenizer;
  views: readonly TextView[];
  seed: number;
  epoch?: number;
  wordnet: SynonymSource;
}

/** The non-empty lines of a caption member (trimmed). */
export function captionLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** One caption for this (seed, epoch, key): the only line, or a seeded choice among several. */
export function chooseCaption(lines: readonly string[], seed: number, epoch: number, key: string): string {
  if (lines.length === 0) throw new Error(`sample ${key} has an empty caption`);
  return lines.length === 1 ? lines[0] : lines[deriveRng(seed, epoch, key, 'caption').int(lines.length)];
}

export function checkTextViews(views: readonly TextView[], tokenizer: ClipTokenizer): void {
  for (const v of views)
    if (v !== 'raw' && v !== 'eda' && v !== 'mlm') throw new Error(`unknown text view "${v}" (raw, eda or mlm)`);
  if (views.includes('mlm') && tokenizer.mask === undefined) {
    throw new Error(
      `text view "mlm" needs the declip tokenizer variant (a <|mask|> token); got "${tokenizer.variant}"`,
    );
  }
}

export function makeTextViews(caption: string, key: string, options: TextViewOptions): TextViews {
  const { tokenizer, views, seed } = options;
  const epoch = options.epoch ?? 0;
  const out: TextViews = {};
  let raw: Int32Array | undefined;
  const rawIds = () => (raw ??= tokenizer.encodeFramed(caption));
  if (views.includes('raw')) out.raw = rawIds();
  if (views.includes('eda')) {
    out.eda = tokenizer.encodeFramed(declipEda(caption, deriveRng(seed, epoch, key, 'eda'), options.wordnet).text);
  }
  if (views.includes('mlm')) {
    const masked = maskTokens(rawIds(), tokenizer, deriveRng(seed, epoch, key, 'mlm'));
    out.mlm = masked.ids;
    out.mlmLabels = masked.labels;
  }
  return out;
}
