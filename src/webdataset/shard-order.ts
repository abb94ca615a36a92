// Which shards a reader visits, in which order: the full shard list is permuted per epoch (and per
// pass, for virtual epochs that need more than one pass) with deriveRng(seed, 'shards', epoch, pass),
// identically on every rank, then split like webdataset: rank r of W takes shards[r::W], worker w of N
// of that rank takes [w::N]. Splits are disjoint and together cover every shard. Resampled mode instead
// draws shards with replacement per rank/worker (for multi-node training without exact epochs).
import { deriveRng } from '../rng.ts';

export interface SplitOptions {
  rank?: number;
  worldSize?: number;
  workerId?: number;
  numWorkers?: number;
}

/** The shard order of one pass; `seed` undefined keeps the given order. */
export function passShardOrder(
  shards: readonly string[],
  seed: number | undefined,
  epoch: number,
  pass: number,
): string[] {
  const order = [...shards];
  if (seed === undefined) return order;
  return deriveRng(seed, 'shards', epoch, pass).shuffle(order);
}

/** The shards this rank/worker reads; throws when any rank/worker would get none. */
export function splitShards<T>(shards: readonly T[], options: SplitOptions = {}): T[] {
  const rank = options.rank ?? 0,
    worldSize = options.worldSize ?? 1;
  const workerId = options.workerId ?? 0,
    numWorkers = options.numWorkers ?? 1;
  for (const [name, index, count] of [
    ['rank', rank, worldSize],
    ['workerId', workerId, numWorkers],
  ] as const) {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(
        `shard split: ${name === 'rank' ? 'worldSize' : 'numWorkers'} must be an integer >= 1, got ${count}`,
      );
    if (!Number.isInteger(index) || index < 0 || index >= count)
      throw new RangeError(`shard split: ${name} must be an integer in [0, ${count}), got ${index}`);
  }
  if (shards.length < worldSize * numWorkers) {
    throw new RangeError(
      `cannot split ${shards.length} shard(s) across ${worldSize} rank(s) x ${numWorkers} worker(s): ` +
        `some rank/worker would get no shard (need at least ${worldSize * numWorkers} shards)`,
    );
  }
  const ofRank = shards.filter((_, i) => i % worldSize === rank);
  return ofRank.filter((_, i) => i % numWorkers === workerId);
}

/**
 * Resampled shards (webdataset ResampledShards / open_clip --dataset-resampled): each rank/worker draws
 * `count` shards with replacement, independently, from deriveRng(seed, 'resampled', epoch, pass, rank, worker).
 */
export function resampledShards(
  shards: readonly string[],
  count: number,
  seed: number,
  epoch: number,
  pass: number,
  split: SplitOptions = {},
): string[] {
  const rng = deriveRng(seed, 'resampled', epoch, pass, split.rank ?? 0, split.workerId ?? 0);
  return Array.from({ length: count }, () => shards[rng.int(shards.length)]);
}
