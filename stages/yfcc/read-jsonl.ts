// Source: JSON lines (the clean table, DeCLIP's V2 list `{filename, caption, url}`, or any JSONL
// with named fields), optionally .gz/.bz2, constant memory. Lines that are not JSON objects are
// counted as 'yfcc.<stage>.drop.bad-json', never fatal. Each row gets `pos` (input position) unless it has one,
// or, with `indexField`, the position in that field always.
import type { StageContext } from '../core/stage.ts';
import { readLines } from './read-lines.ts';
import type { Part } from '../../src/yfcc/part.ts';

export async function* readJsonl(
  options: {
    path: string;
    part?: Part;
    blockLines?: number;
    split?: 'auto' | 'lines';
    stage?: string;
    indexField?: string;
  },
  ctx: StageContext,
): AsyncGenerator<Record<string, unknown>> {
  const stage = options.stage ?? 'read-jsonl';
  for await (const { pos, line } of readLines({ ...options, stage: null, noteStage: stage }, ctx)) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      row = undefined;
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      ctx.counters.inc(`yfcc.${stage}.in`);
      ctx.counters.inc(`yfcc.${stage}.drop.bad-json`);
      ctx.counters.warnOnce(
        `yfcc.${stage}.bad-json`,
        `${options.path}: skipping a line that is not a JSON object at input position ${pos} (further ones are only counted)`,
      );
      continue;
    }
    const r = row as Record<string, unknown>;
    if (options.indexField) r[options.indexField] = pos;
    else if (typeof r.pos !== 'number') r.pos = pos;
    ctx.counters.inc(`yfcc.${stage}.in`);
    ctx.counters.inc(`yfcc.${stage}.out`);
    yield r;
  }
}
