// What makes a cell's results what they are: its declaration (minus how it is logged, checkpointed and which
// backend computes it) and the evaluation suite's tasks. A cell directory records it before the first step; a
// later benchmark run whose cell differs is refused, naming the first field that differs, so results are never mixed.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/train/atomic-write.ts';
import type { PipelineDeclaration } from '../declaration.ts';
import type { EvalSuite } from '../../src/eval/eval-suite.ts';

export const IDENTITY_FILE = 'cell-declaration.json';

/** Fields that may differ between runs of the same cell (they do not change what is computed). */
const VOLATILE = new Set([
  'name',
  'logging',
  'checkpoint',
  'backend',
  'data.decodeConcurrency',
  'distributed.bucketMb',
]);

function canonical(v: unknown, path: string): unknown {
  if (VOLATILE.has(path)) return undefined;
  if (typeof v === 'function') return '<function>';
  if (Array.isArray(v)) return v.map((x, i) => canonical(x, `${path}[${i}]`));
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .flatMap((k) => {
          const c = canonical((v as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
          return c === undefined ? [] : [[k, c]];
        }),
    );
  return v;
}

export function cellIdentity(d: PipelineDeclaration, suite: EvalSuite): Record<string, unknown> {
  return { declaration: canonical(d, ''), suite: canonical(suite, '') };
}

/** The first dotted path where two JSON values differ, with both values. */
export function firstDifference(
  a: unknown,
  b: unknown,
  path = '',
): { path: string; was: unknown; now: unknown } | null {
  if (a === b) return null;
  const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object';
  if (!bothObjects || Array.isArray(a) !== Array.isArray(b)) return { path, was: a, now: b };
  const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
  for (const k of keys) {
    const d = firstDifference(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      path ? (Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`) : k,
    );
    if (d) return d;
  }
  return null;
}

/** Record the identity in a new cell directory, or check it against the one recorded there. */
export async function claimCellDirectory(dir: string, identity: Record<string, unknown>): Promise<void> {
  const file = join(dir, IDENTITY_FILE);
  if (existsSync(file)) {
    let recorded: unknown;
    try {
      recorded = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      throw new Error(`${file} is not readable JSON: remove the cell directory to run the cell again`);
    }
    const d = firstDifference(recorded, JSON.parse(JSON.stringify(identity)));
    if (d)
      throw new Error(
        `${dir} holds a cell made by a different declaration ` +
          `(${d.path}: ${JSON.stringify(d.was)} there, ${JSON.stringify(d.now)} now): ` +
          `use another --out, or remove that directory`,
      );
    return;
  }
  await writeFileAtomic(file, Buffer.from(JSON.stringify(identity, null, 1) + '\n'));
}
