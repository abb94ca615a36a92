// Source: rows of a parquet file with named fields (e.g. the dalle-mini copy of the OpenAI subset),
// read with hyparquet one block of `blockRows` rows at a time (constant memory: hyparquet reads only
// the row groups/pages a block needs). Parts take blocks round-robin (block b -> part b mod N), the
// same split as line blocks of a JSONL table. Int64 values become numbers (or strings past 2^53).
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { StageContext } from '../core/stage.ts';
import { throwIfAborted } from '../core/stage.ts';
import type { Part } from '../../src/yfcc/part.ts';

function plain(v: unknown): unknown {
  if (typeof v === 'bigint')
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

export async function* readParquet(
  options: { path: string; part?: Part; blockRows?: number; columns?: string[]; indexField?: string; stage?: string },
  ctx: StageContext,
): AsyncGenerator<Record<string, unknown>> {
  const part = options.part ?? { index: 0, count: 1 };
  const blockRows = options.blockRows ?? 10_000;
  const file = await asyncBufferFromFile(options.path);
  let metadata;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new Error(`${options.path}: not a readable parquet file (${(err as Error).message})`);
  }
  const rows = Number(metadata.num_rows);
  for (let block = part.index; block * blockRows < rows; block += part.count) {
    throwIfAborted(ctx.signal);
    const rowStart = block * blockRows,
      rowEnd = Math.min(rows, rowStart + blockRows);
    const objects = await parquetReadObjects({ file, metadata, rowStart, rowEnd, columns: options.columns });
    for (let i = 0; i < objects.length; i++) {
      const row: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(objects[i])) row[k] = plain(v);
      row[options.indexField ?? 'pos'] = rowStart + i;
      ctx.counters.inc(`yfcc.${options.stage ?? 'read-parquet'}.in`);
      ctx.counters.inc(`yfcc.${options.stage ?? 'read-parquet'}.out`);
      yield row;
    }
  }
}
