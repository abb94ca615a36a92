// English identification of one caption, in two steps:
//  1. Script. A text whose letters are mostly not Latin script (Cyrillic, Greek, Hebrew, Arabic, Armenian, Georgian,
//     Han, kana, Hangul, Thai, Devanagari, ...) is not English, whatever a statistical model says about it.
//  2. eld (Nito-ELD, large n-gram database, 60 languages). English when eld ranks English first, or when it ranks
//     Tagalog first with English within `nearTie` of it: eld's Tagalog profile is learned from text full of English
//     loanwords, so short English titles with "birthday" land there ("Birthday balloons": Tagalog 0.74, English 0.71),
//     while real Tagalog scores English far behind (below 0.45 of the best on our labelled set).
// Why eld: on the labelled captions in fixtures/language/ (short Flickr-style titles and long descriptions in 60+
// languages) it is the only identifier tried that is right on short English titles without letting other languages
// through; bench/language-id.ts prints the comparison with franc-min and tinyld and the README has the table.
// Cost: ~20-25 us per caption; the large database takes ~1.5 s and ~150 MB of heap to load, once per process, and
// only when a job identifies languages (load it with loadLanguageIdentifier()).

/** Recorded with every filter part and report: a part made by another identifier is not reused. */
export const LANGUAGE_ID_VERSION = 'script-latin-0.5+eld-large-2.1.0+tl-near-tie-0.9';

export interface LanguageResult {
  /** ISO 639-1 code of eld's best match, or 'und' when it found nothing to score (no letters). */
  lang: string;
  /** English's score relative to the best language's (1 = English is the best match), 0 when unscored. */
  engScore: number;
  /** Share of the letters that are Latin script (0 when the text has no letters). */
  latinShare: number;
}

export interface EnglishRule {
  /** A text with a smaller share of Latin-script letters is not English (default 0.5). */
  minLatinShare?: number;
  /** English within this ratio of a loanword-heavy best language (Tagalog) still counts as English (default 0.9). */
  nearTie?: number;
}

/** Languages whose eld profile is full of English words, so a near tie with English means English. */
const LOANWORD_HEAVY = new Set(['tl']);

/** Only the first `maxChars` characters are scored (descriptions can run to thousands). */
const MAX_CHARS = 500;

const LATIN = /\p{Script=Latin}/u;
const LETTER = /\p{L}/u;

/** Share of the letters of `text` that are Latin script; 0 when it has no letters. */
export function latinShare(text: string): number {
  let letters = 0,
    latin = 0;
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (c < 0x80) {
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
        letters++;
        latin++;
      }
    } else if (LETTER.test(ch)) {
      letters++;
      if (LATIN.test(ch)) latin++;
    }
  }
  return letters === 0 ? 0 : latin / letters;
}

interface EldDetector {
  detect(text: string): { language: string; getScores(): Record<string, number> };
}

export interface LanguageIdentifier {
  identify(text: string): LanguageResult;
}

let loaded: Promise<LanguageIdentifier> | undefined;

/** The identifier (eld's large database is loaded on the first call, once per process). */
export function loadLanguageIdentifier(): Promise<LanguageIdentifier> {
  loaded ??= import('eld/large').then(({ eld }) => identifierOver(eld as EldDetector));
  return loaded;
}

function identifierOver(eld: EldDetector): LanguageIdentifier {
  return {
    identify(text: string): LanguageResult {
      const sample = text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text;
      const share = latinShare(sample);
      if (share === 0 && !LETTER.test(sample)) return { lang: 'und', engScore: 0, latinShare: 0 };
      const result = eld.detect(sample);
      const latin = Math.round(share * 1e4) / 1e4;
      if (!result.language) return { lang: 'und', engScore: 0, latinShare: latin };
      // English is eld's best match: its relative score is 1 (the scores themselves cost a third more time).
      if (result.language === 'en') return { lang: 'en', engScore: 1, latinShare: latin };
      const scores = result.getScores();
      let best = 0;
      for (const s of Object.values(scores)) if (s > best) best = s;
      const engScore = best > 0 ? Math.round(((scores.en ?? 0) / best) * 1e4) / 1e4 : 0;
      return { lang: result.language, engScore, latinShare: latin };
    },
  };
}

/** The English decision for one identified text. */
export function isEnglish(result: LanguageResult, rule: EnglishRule = {}): boolean {
  if (result.latinShare < (rule.minLatinShare ?? 0.5)) return false;
  if (result.lang === 'en') return true;
  return LOANWORD_HEAVY.has(result.lang) && result.engScore >= (rule.nearTie ?? 0.9);
}
