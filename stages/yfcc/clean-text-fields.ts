// Apply the versioned cleaning function (src/yfcc/clean-yfcc-text.ts) to title and description. Drops nothing;
// notes fields that became empty through cleaning, fields whose non-UTF-8 bytes were repaired as Windows-1252, and
// fields dropped because they held bytes that could not be decoded (never a caption with U+FFFD).
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { cleanYfccTextDetailed } from '../../src/yfcc/clean-yfcc-text.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function cleanTextFields(): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('clean', (rec, note) => {
    const clean = (field: 'title' | 'description') => {
      const raw = rec.fields[field] ?? '';
      if (!raw) return '';
      const r = cleanYfccTextDetailed(raw);
      if (r.repairedBytes > 0) note(`${field}-repaired-cp1252`);
      if (r.undecodable) note(`${field}-undecodable`);
      else if (!r.text) note(`${field}-emptied`);
      return r.text;
    };
    rec.title = clean('title');
    rec.description = clean('description');
    return rec;
  });
}
