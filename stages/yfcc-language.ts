// English identification per caption candidate with franc-min (src/yfcc/language.ts documents the
// limits and threshold). Every candidate records its label and English score; non-English
// candidates are removed, and rows with none left are dropped as 'not-english'.
import type { Stage } from './stage.ts';
import { countedFilter } from './yfcc-counted.ts';
import { identifyLanguage, isEnglish, type ShortTextPolicy } from '../src/yfcc/language.ts';
import type { YfccRecord } from '../src/yfcc/record.ts';

export interface LanguageFilterOptions { threshold?: number; minChars?: number; shortText?: ShortTextPolicy }

export function englishOnly(options: LanguageFilterOptions = {}): Stage<YfccRecord, YfccRecord> {
  const threshold = options.threshold ?? 0.9;
  return countedFilter<YfccRecord>('language', (rec, note) => {
    const kept = [];
    for (const c of rec.candidates ?? []) {
      const r = identifyLanguage(c.text, { minChars: options.minChars });
      c.lang = r.lang; c.engScore = r.engScore;
      if (r.engScore === null) note('undetermined-short-text');
      if (isEnglish(r, threshold, options.shortText ?? 'keep')) kept.push(c);
    }
    if (kept.length === 0) return 'not-english';
    if (kept.length < (rec.candidates ?? []).length) note('candidate-removed');
    rec.candidates = kept;
    return rec;
  });
}
