// English identification with franc-min (trigram profiles of the 82 languages with 8M+ speakers).
//
// Limits, measured on this project's fixtures: franc needs ~20+ characters of running text; on
// short titles it is unreliable ("Golden Gate Bridge" -> nld, English score 0.28; "my dog" -> hrv;
// "Autumn leaves on the path near our house" -> fra, 0.80; "Red double decker bus in London" -> fra, 0.83).
// So texts shorter than `minChars` (default 20) get the label 'und' and no score, and the filter
// decides them by `shortText` ('keep' by default: OpenAI's rule is about natural-language text, and
// short texts are already constrained by the min-words filter). For longer texts we record the
// top label and the English score from francAll (1 = English is the best match; the other
// languages' scores are relative to the best, so English at >= threshold means "English is the best
// or nearly tied with the best"). Default threshold 0.9.
// Cost: franc is the most expensive step of the filter (~80 us at 30 chars, ~300 us at 120+ chars per
// call on this machine under load), so only the first `maxChars` (default 200) characters are scored.
import { francAll } from 'franc-min';

export interface LanguageResult {
  /** ISO 639-3 label of the best match, or 'und' when the text is too short to decide. */
  lang: string;
  /** franc's relative score for English (0..1), or null when undecided. */
  engScore: number | null;
}

export interface LanguageOptions {
  minChars?: number;
  maxChars?: number;
}

export function identifyLanguage(text: string, options: LanguageOptions = {}): LanguageResult {
  const minChars = options.minChars ?? 20;
  const maxChars = options.maxChars ?? 200;
  const sample = text.length > maxChars ? text.slice(0, maxChars) : text;
  if (sample.length < minChars) return { lang: 'und', engScore: null };
  const all = francAll(sample, { minLength: minChars });
  if (all.length === 0 || all[0][0] === 'und') return { lang: 'und', engScore: null };
  let eng = 0;
  for (const [code, score] of all)
    if (code === 'eng') {
      eng = score;
      break;
    }
  return { lang: all[0][0], engScore: Math.round(eng * 1e4) / 1e4 };
}

export type ShortTextPolicy = 'keep' | 'reject';

/** The English decision for one language result. */
export function isEnglish(result: LanguageResult, threshold = 0.9, shortText: ShortTextPolicy = 'keep'): boolean {
  if (result.engScore === null) return shortText === 'keep';
  return result.engScore >= threshold;
}
