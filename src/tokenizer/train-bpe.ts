// Learning BPE merges from a caption corpus, in the format and with the conventions of OpenAI's vocab:
// captions are cleaned (clean-text.ts) and pre-tokenised (pre-tokenize.ts) exactly as the tokenizer does,
// each pre-token becomes its UTF-8 byte symbols with `</w>` on the last one, and the most frequent adjacent
// pair (weighted by word frequency) is merged repeatedly. Ties go to the pair with the smaller
// (first id, second id), ids being the vocabulary order, so training is deterministic. A merge whose
// concatenation equals an existing symbol is skipped (vocab strings stay unique). Training stops at
// `merges` merges or when the best pair occurs fewer than `minFrequency` times.
import { BYTE_ORDER, BYTE_TO_ID, BYTE_TO_UNICODE } from './bytes-to-unicode.ts';
import { cleanText } from './clean-text.ts';
import { preTokenPattern } from './pre-tokenize.ts';
import { formatMergesFile } from './vocab-file.ts';

export interface TrainBpeOptions {
  /** Maximum number of merges to learn. */
  merges: number;
  /** Stop when the best pair occurs fewer times than this (default 2). */
  minFrequency?: number;
}

export interface TrainedBpe {
  merges: Array<[string, string]>;
  /** Distinct pre-tokens seen and their total count. */
  words: number;
  tokens: number;
}

const BASE = 1 << 21;
const SPECIALS = ['<|startoftext|>', '<|endoftext|>', '<|mask|>'];

/** Max-heap of (count, key) with lazy invalidation; ties pop the smaller key first. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private before(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < this.counts.length && this.before(l, m)) m = l;
        if (r < this.counts.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Learn merges from captions (see the file comment). */
export function trainBpe(captions: Iterable<string>, options: TrainBpeOptions): TrainedBpe {
  const minFrequency = options.minFrequency ?? 2;
  const pattern = preTokenPattern(SPECIALS);
  const wordCounts = new Map<string, number>();
  let tokens = 0;
  for (const caption of captions) {
    for (const token of cleanText(caption).match(pattern) ?? []) {
      if (SPECIALS.includes(token)) continue;
      wordCounts.set(token, (wordCounts.get(token) ?? 0) + 1);
      tokens++;
    }
  }
  const utf8 = new TextEncoder();
  const symbols: string[] = [];
  for (const b of BYTE_ORDER) symbols.push(BYTE_TO_UNICODE[b]);
  for (const b of BYTE_ORDER) symbols.push(BYTE_TO_UNICODE[b] + '</w>');
  const symbolIds = new Map(symbols.map((s, i) => [s, i]));

  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [token, count] of [...wordCounts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const bytes = utf8.encode(token);
    const w = Array.from(bytes, (b) => BYTE_TO_ID[b]);
    w[w.length - 1] += 256;
    words.push(w);
    freqs.push(count);
  }

  const pairCounts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const addPairs = (wi: number, sign: 1 | -1, touched: Set<number>) => {
    const w = words[wi];
    for (let i = 0; i < w.length - 1; i++) {
      const key = w[i] * BASE + w[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * freqs[wi]);
      if (sign > 0) {
        let s = where.get(key);
        if (!s) where.set(key, (s = new Set()));
        s.add(wi);
      }
      touched.add(key);
    }
  };
  const initial = new Set<number>();
  words.forEach((_, wi) => addPairs(wi, 1, initial));
  for (const key of initial) heap.push(pairCounts.get(key)!, key);

  const merges: Array<[string, string]> = [];
  const skipped = new Set<number>();
  while (merges.length < options.merges && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCounts.get(key) !== count || skipped.has(key)) continue; // stale entry
    if (count < minFrequency) break;
    const a = Math.floor(key / BASE),
      b = key - a * BASE;
    const merged = symbols[a] + symbols[b];
    if (symbolIds.has(merged)) {
      skipped.add(key);
      continue;
    }
    const id = symbols.length;
    symbols.push(merged);
    symbolIds.set(merged, id);
    merges.push([symbols[a], symbols[b]]);
    const touched = new Set<number>();
    for (const wi of where.get(key) ?? []) {
      addPairs(wi, -1, touched);
      const w = words[wi];
      const next: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i < w.length - 1 && w[i] === a && w[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(w[i]);
      }
      words[wi] = next;
      addPairs(wi, 1, touched);
    }
    where.delete(key);
    for (const k of touched) {
      const c = pairCounts.get(k)!;
      if (c > 0) heap.push(c, k);
      else pairCounts.delete(k);
    }
  }
  return { merges, words: wordCounts.size, tokens };
}

/** A trained vocab as file text (header + "a b" lines; gzip it to get the .txt.gz format). */
export function formatTrainedVocab(trained: TrainedBpe, note = 'clip-bench trained BPE'): string {
  return formatMergesFile(`#version: 0.2 ${note} (${trained.merges.length} merges)`, trained.merges);
}
