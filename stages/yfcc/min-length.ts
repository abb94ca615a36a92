// Drop caption candidates shorter than minWords words or minChars characters (DataComp basic
// filter: > 2 words and > 5 characters, i.e. minWords 3, minChars 6); drop rows with none left.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { passesMinLength } from '../../src/yfcc/caption.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function minLength(minWords = 3, minChars = 6): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('min-length', (rec, note) => {
    const before = rec.candidates ?? [];
    rec.candidates = before.filter((c) => passesMinLength(c.text, minWords, minChars));
    if (rec.candidates.length === 0) return 'too-short';
    if (rec.candidates.length < before.length) note('candidate-removed');
    return rec;
  });
}
