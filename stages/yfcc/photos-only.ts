// Keep photos, drop videos (YFCC100M marker column: 0 = photo, 1 = video).
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function photosOnly(): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('photos-only', (rec) => (rec.fields.marker === '1' ? 'video' : rec));
}
