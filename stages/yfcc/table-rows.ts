// Turn filtered records into clean-table rows (src/yfcc/record.ts).
import type { Stage } from '../core/stage.ts';
import { toTableRow, type YfccRecord, type TableRow } from '../../src/yfcc/record.ts';

export function tableRows(): Stage<YfccRecord, TableRow> {
  return async function* tableRowsStage(source) {
    for await (const rec of source) yield toTableRow(rec);
  };
}
