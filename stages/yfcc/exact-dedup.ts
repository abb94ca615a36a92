// Exact de-duplication with bounded memory: two Bloom filters (src/yfcc/bloom-filter.ts), one on the
// photo hash, one on the normalised caption + download URL. The first occurrence in input order is
// kept. Memory is fixed by (capacity, falsePositiveRate), e.g. 2 x 69 MiB for 20M rows at 1e-6; a
// false positive drops a unique row, expected count <= rows x rate (reported in the run report).
import type { Stage } from '../core/stage.ts';
import { countedFilter } from './counted-filter.ts';
import { BloomFilter } from '../../src/yfcc/bloom-filter.ts';
import { normaliseForDedup } from '../../src/yfcc/clean-yfcc-text.ts';
import type { TableRow } from '../../src/yfcc/record.ts';

export interface DedupOptions {
  capacity?: number;
  falsePositiveRate?: number;
}

export interface Dedup {
  stage: Stage<TableRow, TableRow>;
  /** Bytes of filter memory and the FP rate at the current fill, for the report. */
  stats(): { bytes: number; hashFilterRate: number; captionFilterRate: number };
}

export function exactDedup(options: DedupOptions = {}): Dedup {
  const capacity = options.capacity ?? 20_000_000,
    rate = options.falsePositiveRate ?? 1e-6;
  let byHash: BloomFilter | undefined, byCaption: BloomFilter | undefined;
  const filters = () => {
    byHash ??= new BloomFilter(capacity, rate);
    byCaption ??= new BloomFilter(capacity, rate);
    return [byHash, byCaption] as const;
  };
  const stage = countedFilter<TableRow>('dedup', (row) => {
    const [h, c] = filters();
    if (row.photoHash && h.testAndAdd(row.photoHash)) return 'duplicate-photo-hash';
    if (row.caption && c.testAndAdd(normaliseForDedup(row.caption) + '\t' + row.downloadUrl))
      return 'duplicate-caption-url';
    return row;
  });
  return {
    stage,
    stats: () => ({
      bytes: (byHash?.byteLength ?? 0) + (byCaption?.byteLength ?? 0),
      hashFilterRate: byHash?.expectedFalsePositiveRate() ?? 0,
      captionFilterRate: byCaption?.expectedFalsePositiveRate() ?? 0,
    }),
  };
}
