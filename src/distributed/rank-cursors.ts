// Per-rank data cursors in a data-parallel checkpoint: every rank reads its own split of the shards, so its reader
// position differs; rank 0 writes the checkpoint with all of them (gathered), and on resume each rank takes its own.
import type { Collective } from './collective.ts';

export interface RankCursor {
  epoch: number;
  samplesConsumed: number;
  pass?: number;
  shard?: number;
  samplesInShard?: number;
}

const FIELDS = ['epoch', 'samplesConsumed', 'pass', 'shard', 'samplesInShard'] as const;

/** Every rank's cursor, in rank order (a collective: every rank must call it at the same point). */
export function gatherCursors(world: Collective, mine: RankCursor): RankCursor[] {
  const local = new Float64Array(FIELDS.length).fill(NaN);
  FIELDS.forEach((f, i) => {
    const v = mine[f];
    if (v !== undefined) local[i] = v;
  });
  const all = world.allgather(local);
  return Array.from({ length: world.size }, (_, r) => {
    const c: RankCursor = { epoch: all[r * FIELDS.length], samplesConsumed: all[r * FIELDS.length + 1] };
    FIELDS.slice(2).forEach((f, j) => {
      const v = all[r * FIELDS.length + 2 + j];
      if (!Number.isNaN(v)) c[f] = v;
    });
    return c;
  });
}

/** This rank's cursor from a checkpoint's data section (`ranks` written by a data-parallel run). */
export function cursorForRank<C extends RankCursor>(
  data: C & { ranks?: RankCursor[] },
  rank: number,
  size: number,
  where: string,
): C {
  if (size === 1 && !data.ranks) return data;
  const ranks = data.ranks;
  if (!ranks)
    throw new Error(
      `checkpoint.resume: ${where} was written by a single-process run; resuming it with ${size} ranks would ` +
        `re-read other ranks' samples (resume with 1 rank, or start fresh)`,
    );
  if (ranks.length !== size)
    throw new Error(
      `checkpoint.resume: ${where} was written by ${ranks.length} ranks, this job has ${size} (launch with ` +
        `mpirun -np ${ranks.length})`,
    );
  const { ranks: _all, ...rest } = data;
  return { ...rest, ...ranks[rank] } as C;
}
