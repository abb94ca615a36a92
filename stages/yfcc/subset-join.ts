// Join the metadata with a subset list (OpenAI's yfcc100m_subset_data.tsv[.bz2]: line number,
// photo id, photo hash): rows whose photo id is not listed are dropped ('not-in-subset'); a listed
// id with another hash is dropped as 'hash-mismatch'. The key set is loaded once (src/yfcc/subset-keys.ts).
import type { Stage, StageContext } from '../core/stage.ts';
import { Counters } from '../../src/counters.ts';
import { countedFilter } from './counted-filter.ts';
import { readLines } from './read-lines.ts';
import { SubsetKeysBuilder, type SubsetKeys } from '../../src/yfcc/subset-keys.ts';
import { OPENAI_SUBSET_COLUMNS, parseYfccLine } from '../../src/yfcc/columns.ts';
import type { YfccRecord } from '../../src/yfcc/record.ts';

/** Load the key set; malformed lines of the list are counted in the returned counters, not ctx's. */
export async function loadSubsetKeys(
  path: string,
  ctx: StageContext,
  columns: readonly string[] = OPENAI_SUBSET_COLUMNS,
): Promise<{ keys: SubsetKeys; counters: Counters }> {
  const builder = new SubsetKeysBuilder();
  const counters = new Counters();
  for await (const { pos, line } of readLines({ path, stage: 'subset-list' }, { signal: ctx.signal, counters })) {
    const r = parseYfccLine(line, pos, columns);
    if (!r.ok) {
      counters.inc(`yfcc.subset-list.drop.${r.reason}`);
      continue;
    }
    builder.add(Number(r.row.fields.photoId), r.row.fields.photoHash ?? '');
  }
  const keys = builder.build();
  counters.inc('yfcc.subset-list.keys', keys.size);
  return { keys, counters };
}

export function subsetJoin(keys: SubsetKeys): Stage<YfccRecord, YfccRecord> {
  return countedFilter<YfccRecord>('subset', (rec) => {
    const r = keys.lookup(Number(rec.fields.photoId), rec.fields.photoHash ?? '');
    return r === 'match' ? rec : r === 'absent' ? 'not-in-subset' : 'hash-mismatch';
  });
}
