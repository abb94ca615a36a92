// OpenAI CLIP's byte-level BPE tokenizer (simple_tokenizer.py), exactly:
//   clean (clean-text.ts) -> pre-tokenise with OpenAI's regex -> UTF-8 bytes -> byte symbols, last one with
//   `</w>` -> repeatedly merge the lowest-ranked adjacent pair (all its occurrences, left to right) -> ids.
// Vocabulary = 256 byte symbols + the same 256 with `</w>` + one entry per merge + special tokens.
//   openai: 48,894 merges of OpenAI's file; SOT 49406, EOT 49407, vocab 49408.
//   declip: same + `<|mask|>` first: mask 49406, SOT 49407, EOT 49408, vocab 49409.
// A custom (trained) merges file uses all of its merges; specials follow the merges the same way.
// Special-token strings in the text (after lowercasing) are recognised by the regex and map to their ids,
// like OpenAI's (so "<|endoftext|>" in a caption yields EOT).
import { BYTE_ORDER, BYTE_TO_ID, BYTE_TO_UNICODE, UNICODE_TO_BYTE } from './bytes-to-unicode.ts';
import { cleanText } from './clean-text.ts';
import { preTokenPattern, preTokenize } from './pre-tokenize.ts';
import { OPENAI_HEADER_PREFIX, OPENAI_MERGES, readMergesFile, type MergesFile } from './vocab-file.ts';

export type TokenizerVariant = 'openai' | 'declip';
export type TruncationPolicy = 'truncate' | 'error';

export interface TokenizerOptions {
  variant?: TokenizerVariant;
  /** Path or http(s) URL of the merges file; default $CLIP_BENCH_VOCAB or OpenAI's file (see vocab-file.ts). */
  vocabPath?: string;
  /** Framed length (SOT + content + EOT + padding); default 77. */
  contextLength?: number;
  /** Over-long text: 'truncate' (open_clip: keep SOT + first ctx-2 ids + EOT) or 'error'. Default 'truncate'. */
  truncation?: TruncationPolicy;
  /** sha256 the vocab file must have. */
  sha256?: string;
}

const MAX_CACHED_WORDS = 500_000;

export class ClipTokenizer {
  readonly variant: TokenizerVariant;
  readonly contextLength: number;
  readonly truncation: TruncationPolicy;
  readonly vocabSize: number;
  readonly sot: number;
  readonly eot: number;
  /** `<|mask|>` id (declip only). */
  readonly mask: number | undefined;
  /** Number of merges in use. */
  readonly mergeCount: number;
  /** The merges file: where it was read from and the identity of its bytes. */
  readonly vocabFile: { source: string; sha256: string; bytes: number };
  /** id -> token string (byte symbols, `</w>` suffix, or a special token). */
  readonly vocab: readonly string[];
  private readonly encoder: Map<string, number>;
  /** Open-addressing hash table (a, b) -> rank, linear probing; mergedId[rank] = id of the merged symbol. */
  private readonly pairA: Int32Array;
  private readonly pairB: Int32Array;
  private readonly pairRank: Int32Array;
  private readonly pairShift: number;
  private readonly mergedId: Int32Array;
  private readonly specials: Map<string, number>;
  private readonly specialNames: readonly string[];
  private readonly pattern: RegExp;
  private readonly cache = new Map<string, number[]>();
  private readonly utf8 = new TextEncoder();

  constructor(
    file: MergesFile,
    options: { variant?: TokenizerVariant; contextLength?: number; truncation?: TruncationPolicy } = {},
  ) {
    this.variant = options.variant ?? 'openai';
    this.contextLength = options.contextLength ?? 77;
    this.truncation = options.truncation ?? 'truncate';
    if (!Number.isInteger(this.contextLength) || this.contextLength < 2) {
      throw new Error(`contextLength must be an integer >= 2, got ${options.contextLength}`);
    }
    const isOpenAi = file.header.startsWith(OPENAI_HEADER_PREFIX);
    const merges = isOpenAi ? file.merges.slice(0, OPENAI_MERGES) : file.merges;
    if (isOpenAi && merges.length < OPENAI_MERGES) {
      throw new Error(`${file.source} has ${merges.length} merges, OpenAI's vocab needs ${OPENAI_MERGES}`);
    }
    this.mergeCount = merges.length;
    this.vocabFile = { source: file.source, sha256: file.sha256, bytes: file.bytes };

    const vocab: string[] = [];
    for (const b of BYTE_ORDER) vocab.push(BYTE_TO_UNICODE[b]);
    for (const b of BYTE_ORDER) vocab.push(BYTE_TO_UNICODE[b] + '</w>');
    for (const [a, b] of merges) vocab.push(a + b);
    const specialNames =
      this.variant === 'declip'
        ? ['<|mask|>', '<|startoftext|>', '<|endoftext|>']
        : ['<|startoftext|>', '<|endoftext|>'];
    const firstSpecial = vocab.length;
    vocab.push(...specialNames);
    this.vocab = vocab;
    this.vocabSize = vocab.length;
    // Python builds dict(zip(vocab, range)): a string appearing twice maps to its LAST id.
    this.encoder = new Map(vocab.map((s, i) => [s, i]));
    this.specials = new Map(specialNames.map((s, i) => [s, firstSpecial + i]));
    this.specialNames = specialNames;
    this.sot = this.specials.get('<|startoftext|>')!;
    this.eot = this.specials.get('<|endoftext|>')!;
    this.mask = this.specials.get('<|mask|>');

    let bits = 4;
    while (1 << bits < merges.length * 2.5) bits++;
    this.pairShift = 32 - bits;
    this.pairA = new Int32Array(1 << bits).fill(-1);
    this.pairB = new Int32Array(1 << bits);
    this.pairRank = new Int32Array(1 << bits);
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const ia = this.encoder.get(a);
      const ib = this.encoder.get(b);
      const im = this.encoder.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        throw new Error(`${file.source}: merge ${rank + 1} "${a} ${b}" uses a symbol that no earlier merge made`);
      }
      this.setPair(ia, ib, rank); // like dict(zip(merges, range)): a repeated merge keeps its last rank
      this.mergedId[rank] = im;
    });

    this.pattern = preTokenPattern(specialNames);
  }

  /** Cleaned text as the encoder sees it (see clean-text.ts). */
  clean(text: string): string {
    return cleanText(text);
  }

  /** The pre-tokens of already-cleaned text. */
  preTokenize(cleaned: string): string[] {
    return preTokenize(cleaned, this.pattern, this.specialNames);
  }

  /** BPE ids of `text` (no SOT/EOT, no padding). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const token of this.preTokenize(this.clean(text))) {
      const ids = this.bpe(token);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
    return out;
  }

  private slot(a: number, b: number): number {
    return Math.imul(Math.imul(a, 0x27d4eb2d) ^ b, 0x9e3779b1) >>> this.pairShift;
  }

  private setPair(a: number, b: number, rank: number): void {
    const mask = this.pairA.length - 1;
    let i = this.slot(a, b);
    while (this.pairA[i] !== -1 && !(this.pairA[i] === a && this.pairB[i] === b)) i = (i + 1) & mask;
    this.pairA[i] = a;
    this.pairB[i] = b;
    this.pairRank[i] = rank;
  }

  /** Merge rank of the pair (a, b), or -1. */
  rankOf(a: number, b: number): number {
    const mask = this.pairA.length - 1;
    const pa = this.pairA,
      pb = this.pairB;
    for (let i = this.slot(a, b); ; i = (i + 1) & mask) {
      const x = pa[i];
      if (x === -1) return -1;
      if (x === a && pb[i] === b) return this.pairRank[i];
    }
  }

  /** BPE of one pre-token (cached). */
  bpe(token: string): number[] {
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    const special = this.specials.get(token);
    if (special !== undefined) {
      const r = [special];
      this.cache.set(token, r);
      return r;
    }
    const bytes = this.utf8.encode(token);
    const word: number[] = new Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) word[i] = BYTE_TO_ID[bytes[i]];
    word[bytes.length - 1] += 256; // `</w>` form of the last byte
    let n = word.length;
    while (n > 1) {
      let bestRank = 0x7fffffff;
      let first = -1,
        second = -1;
      for (let i = 0; i < n - 1; i++) {
        const r = this.rankOf(word[i], word[i + 1]);
        if (r >= 0 && r < bestRank) {
          bestRank = r;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (first < 0) break;
      // Merge every occurrence of (first, second), left to right, in place.
      const merged = this.mergedId[bestRank];
      let w = 0;
      for (let i = 0; i < n; i++) {
        if (i < n - 1 && word[i] === first && word[i + 1] === second) {
          word[w++] = merged;
          i++;
        } else word[w++] = word[i];
      }
      n = w;
    }
    word.length = n;
    // Unbounded in OpenAI's code; capped here so a long run over millions of distinct words stays bounded.
    if (this.cache.size >= MAX_CACHED_WORDS) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }

  /** [SOT] + ids + [EOT], truncated per policy to contextLength, not padded. */
  frame(ids: number[], text?: string): number[] {
    const framed = [this.sot, ...ids, this.eot];
    if (framed.length > this.contextLength) {
      if (this.truncation === 'error') {
        const head = text === undefined ? '' : ` (${JSON.stringify(text.slice(0, 40))}...)`;
        throw new Error(`text is ${framed.length} tokens, longer than the context length ${this.contextLength}${head}`);
      }
      framed.length = this.contextLength;
      framed[this.contextLength - 1] = this.eot;
    }
    return framed;
  }

  /** SOT..EOT padded with 0 to contextLength (open_clip truncation: keep SOT + first ctx-2 ids + EOT). */
  encodeFramed(text: string): Int32Array {
    const out = new Int32Array(this.contextLength);
    out.set(this.frame(this.encode(text), text));
    return out;
  }

  /** Row-major [texts.length, contextLength] int32 ids. */
  encodeBatch(texts: readonly string[]): Int32Array {
    const out = new Int32Array(texts.length * this.contextLength);
    texts.forEach((t, i) => out.set(this.frame(this.encode(t), t), i * this.contextLength));
    return out;
  }

  /** Text of ids as OpenAI's decode: `</w>` becomes a space; invalid UTF-8 becomes U+FFFD. Padding is not stripped. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      const s = this.vocab[ids[i]];
      if (s === undefined) throw new Error(`token id ${ids[i]} is outside the vocabulary (size ${this.vocabSize})`);
      text += s;
    }
    for (const ch of text) {
      const b = UNICODE_TO_BYTE.get(ch);
      if (b === undefined) throw new Error(`decode: symbol ${JSON.stringify(ch)} is not a byte symbol`);
      bytes.push(b);
    }
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes)).replaceAll('</w>', ' ');
  }

  /** Number of pre-tokens currently cached. */
  get cacheSize(): number {
    return this.cache.size;
  }
}

/** Load a tokenizer (OpenAI's vocab by default; $CLIP_BENCH_VOCAB overrides the default location). */
export async function loadTokenizer(options: TokenizerOptions = {}): Promise<ClipTokenizer> {
  const file = await readMergesFile(options.vocabPath, options.sha256);
  return new ClipTokenizer(file, options);
}
