// Blank titles that are camera/phone file names (IMG_1234, DSC01234, 20160716_113957, P1010001...).
// The row stays (its description may still be a caption); the caption stage drops rows left empty.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { isCameraTitle } from '../../src/yfcc/camera-patterns.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function rejectCameraTitles(): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('camera-title', (rec, note) => {
    if (rec.title && isCameraTitle(rec.title)) {
      rec.title = '';
      rec.titleRejected = 'camera-title';
      note('title-rejected');
    }
    return rec;
  });
}
