// English identification per caption candidate with franc-min (src/yfcc/language.ts documents the
// limits and threshold). Every candidate records its label and English score; non-English
// candidates are removed, and rows with none left are dropped as 'not-english'.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { identifyLanguage, isEnglish, type LanguageResult, type ShortTextPolicy } from '../../src/yfcc/language.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export interface LanguageFilterOptions {
  threshold?: number;
  minChars?: number;
  shortText?: ShortTextPolicy;
  cacheSize?: number;
}

export function englishOnly(options: LanguageFilterOptions = {}): Stage<YfccRecord, YfccRecord> {
  const threshold = options.threshold ?? 0.9;
  // franc is the costliest step; YFCC users often upload batches with one title/description, so a
  // small LRU of recent texts (bounded, same results) skips repeated work.
  const cacheSize = options.cacheSize ?? 4096;
  const cache = new Map<string, LanguageResult>();
  const identify = (text: string, note: (name: string) => void): LanguageResult => {
    const hit = cache.get(text);
    if (hit) {
      cache.delete(text);
      cache.set(text, hit);
      note('cache-hit');
      return hit;
    }
    const r = identifyLanguage(text, { minChars: options.minChars });
    if (cacheSize > 0) {
      cache.set(text, r);
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    }
    return r;
  };
  return countedFilter<YfccRecord>('language', (rec, note) => {
    const kept = [];
    for (const c of rec.candidates ?? []) {
      const r = identify(c.text, note);
      c.lang = r.lang;
      c.engScore = r.engScore;
      if (r.engScore === null) note('undetermined-short-text');
      if (isEnglish(r, threshold, options.shortText ?? 'keep')) kept.push(c);
    }
    if (kept.length === 0) return 'not-english';
    if (kept.length < (rec.candidates ?? []).length) note('candidate-removed');
    rec.candidates = kept;
    return rec;
  });
}
