// Keep photos, drop videos (YFCC100M marker column: 0 = photo, 1 = video).
import type { Stage } from './stage.ts';
import { countedFilter } from './yfcc-counted.ts';
import type { YfccRecord } from '../src/yfcc/record.ts';

export function photosOnly(): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('photos-only', (rec) => (rec.fields.marker === '1' ? 'video' : rec));
}
