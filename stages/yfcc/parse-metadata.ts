// Parse YFCC100M TSV lines into records; broken lines and wrong column counts are counted
// (and the first of each kind reported once), never fatal.
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import type { Line } from './read-lines.ts';
import { parseYfccLine, YFCC100M_COLUMNS } from '../../src/yfcc/columns.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

export function parseMetadata(columns: readonly string[] = YFCC100M_COLUMNS): Stage<Line, YfccRecord> {
  return (source, ctx) =>
    countedFilter<Line, YfccRecord>('parse', ({ pos, line }) => {
      const r = parseYfccLine(line, pos, columns);
      if (r.ok) return r.row;
      ctx.counters.warnOnce(
        `yfcc.parse.${r.reason}`,
        `yfcc: skipping malformed metadata (${r.reason}): ${r.detail} (further ones are only counted)`,
      );
      return r.reason;
    })(source, ctx);
}
