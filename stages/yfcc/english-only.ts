// English identification per caption candidate (src/yfcc/language.ts: a script check, then eld). Every candidate
// records its label and English score; non-English candidates are removed, and rows with none left are dropped as
// 'not-english'. Candidates mostly in a non-Latin script are noted as 'non-latin-script'.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { isEnglish, loadLanguageIdentifier, type EnglishRule, type LanguageResult } from '../../src/yfcc/language.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export interface LanguageFilterOptions extends EnglishRule {
  cacheSize?: number;
}

export function englishOnly(options: LanguageFilterOptions = {}): Stage<YfccRecord, YfccRecord> {
  return async function* englishOnlyStage(source, ctx) {
    const identifier = await loadLanguageIdentifier();
    // YFCC users often upload batches with one title/description, so a small LRU of recent texts (bounded, same
    // results) skips repeated work.
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
      const r = identifier.identify(text);
      if (cacheSize > 0) {
        cache.set(text, r);
        if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      }
      return r;
    };
    yield* countedFilter<YfccRecord>('language', (rec, note) => {
      const kept = [];
      for (const c of rec.candidates ?? []) {
        const r = identify(c.text, note);
        c.lang = r.lang;
        c.engScore = r.engScore;
        if (r.latinShare < (options.minLatinShare ?? 0.5)) note('non-latin-script');
        if (isEnglish(r, options)) kept.push(c);
      }
      if (kept.length === 0) return 'not-english';
      if (kept.length < (rec.candidates ?? []).length) note('candidate-removed');
      rec.candidates = kept;
      return rec;
    })(source, ctx);
  };
}
