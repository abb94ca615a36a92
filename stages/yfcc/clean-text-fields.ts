// Apply the versioned cleaning function (src/yfcc/clean-text.ts) to title and description.
// Drops nothing; notes how many fields became empty through cleaning.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { cleanText } from '../../src/yfcc/clean-text.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function cleanTextFields(): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('clean', (rec, note) => {
    const rawTitle = rec.fields.title ?? '',
      rawDesc = rec.fields.description ?? '';
    rec.title = rawTitle ? cleanText(rawTitle) : '';
    rec.description = rawDesc ? cleanText(rawDesc) : '';
    if (rawTitle && !rec.title) note('title-emptied');
    if (rawDesc && !rec.description) note('description-emptied');
    return rec;
  });
}
