// EDA (Wei & Zou 2019) as in the `textaugment.EDA` package DeCLIP uses, seeded with Rng:
//   synonym replacement (SR): among the distinct non-stop-words (in sorted order, then shuffled), replace
//     the first n that have WordNet synonyms -- every occurrence -- by one of their synonyms chosen uniformly;
//   random swap (RS): n times, swap two distinct random positions (giving up after 3 equal draws);
//   random deletion (RD): drop each word with probability p; a one-word text is kept; if all are dropped,
//     one random word remains;
//   random insertion (RI): n times, insert a synonym of a random word (up to 10 tries) at a random position.
// DeCLIP's policy (declipEda) applies exactly one of SR(n=1), RS(n=1), RD(p=0.1), chosen uniformly.
// Words are whitespace-separated tokens (Python str.split()). For WordNet look-ups and the stop-word test a word is
// lowercased and stripped of leading/trailing non-letters ("stairs." looks up "stairs"); the punctuation is
// kept around the replacement ("stairs." -> "steps."). Stop words: NLTK's English list.
import type { Rng } from '../rng.ts';
import { ENGLISH_STOPWORDS } from './stopwords.ts';

export interface SynonymSource {
  synonyms(word: string): readonly string[];
}

export type EdaOperation = 'sr' | 'rs' | 'rd' | 'ri';

const SPLIT = /[\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Python str.split(): whitespace-separated words, no empty strings. */
export function splitWords(text: string): string[] {
  return text.split(SPLIT).filter((w) => w !== '');
}

/** [leading punctuation, core word, trailing punctuation]. */
function parts(word: string): [string, string, string] {
  const m = /^([^\p{L}]*)(.*?)([^\p{L}]*)$/u.exec(word)!;
  return [m[1], m[2], m[3]];
}

export function synonymReplacement(
  words: readonly string[],
  n: number,
  rng: Rng,
  wordnet: SynonymSource,
  stopwords: ReadonlySet<string> = ENGLISH_STOPWORDS,
): string[] {
  let out = words.slice();
  const candidates = [...new Set(words.map((w) => parts(w)[1].toLowerCase()))]
    .filter((w) => w !== '' && !stopwords.has(w))
    .sort();
  rng.shuffle(candidates);
  let replaced = 0;
  for (const core of candidates) {
    if (replaced >= n) break;
    const synonyms = wordnet.synonyms(core);
    if (synonyms.length === 0) continue;
    const synonym = synonyms[rng.int(synonyms.length)];
    out = out.map((w) => {
      const [pre, c, post] = parts(w);
      return c.toLowerCase() === core ? pre + synonym + post : w;
    });
    replaced++;
  }
  return out;
}

export function randomSwap(words: readonly string[], n: number, rng: Rng): string[] {
  const out = words.slice();
  if (out.length < 2) return out;
  for (let k = 0; k < n; k++) {
    const i = rng.int(out.length);
    let j = i;
    let tries = 0;
    while (j === i) {
      j = rng.int(out.length);
      if (++tries > 3) break;
    }
    if (j !== i) [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function randomDeletion(words: readonly string[], p: number, rng: Rng): string[] {
  if (words.length <= 1) return words.slice();
  const out = words.filter(() => rng.random() > p);
  return out.length > 0 ? out : [words[rng.int(words.length)]];
}

export function randomInsertion(words: readonly string[], n: number, rng: Rng, wordnet: SynonymSource): string[] {
  const out = words.slice();
  if (out.length === 0) return out;
  for (let k = 0; k < n; k++) {
    let synonyms: readonly string[] = [];
    for (let tries = 0; tries < 10 && synonyms.length === 0; tries++) {
      synonyms = wordnet.synonyms(parts(out[rng.int(out.length)])[1]);
    }
    if (synonyms.length === 0) break;
    const synonym = synonyms[rng.int(synonyms.length)];
    out.splice(rng.int(out.length), 0, synonym);
  }
  return out;
}

/** Apply one EDA operation to a text. */
export function applyEda(
  text: string,
  op: EdaOperation,
  rng: Rng,
  wordnet: SynonymSource,
  options: { n?: number; p?: number } = {},
): string {
  const words = splitWords(text);
  const n = options.n ?? 1;
  switch (op) {
    case 'sr':
      return synonymReplacement(words, n, rng, wordnet).join(' ');
    case 'rs':
      return randomSwap(words, n, rng).join(' ');
    case 'rd':
      return randomDeletion(words, options.p ?? 0.1, rng).join(' ');
    case 'ri':
      return randomInsertion(words, n, rng, wordnet).join(' ');
  }
}

export const DECLIP_EDA_OPERATIONS: readonly EdaOperation[] = ['sr', 'rs', 'rd'];

/** DeCLIP's text augmentation: one of SR(n=1), RS(n=1), RD(p=0.1) chosen uniformly. */
export function declipEda(text: string, rng: Rng, wordnet: SynonymSource): { text: string; op: EdaOperation } {
  const op = DECLIP_EDA_OPERATIONS[rng.int(DECLIP_EDA_OPERATIONS.length)];
  return { text: applyEda(text, op, rng, wordnet, { n: 1, p: 0.1 }), op };
}
