// Blank descriptions that are EXIF/camera-settings dumps ("f/2.8 1/250s ISO 200 50mm").
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { isExifDescription } from '../../src/yfcc/camera-patterns.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function rejectExifDescriptions(): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('exif-description', (rec, note) => {
    if (rec.description && isExifDescription(rec.description)) {
      rec.description = '';
      rec.descriptionRejected = 'exif-description';
      note('description-rejected');
    }
    return rec;
  });
}
