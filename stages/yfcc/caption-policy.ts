// Build caption candidates by policy (title | description | concat | both); a row with no
// candidate is dropped as 'empty-after-cleaning'.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { captionCandidates, type CaptionPolicy } from '../../src/yfcc/caption.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function captionPolicy(policy: CaptionPolicy): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('caption', (rec) => {
    rec.candidates = captionCandidates(policy, rec.title ?? '', rec.description ?? '');
    return rec.candidates.length > 0 ? rec : 'empty-after-cleaning';
  });
}
