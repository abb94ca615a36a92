// Output shard names from a printf-style pattern, as webdataset's ShardWriter: `out-%06d.tar`, `%d.tar`.

const PLACEHOLDER = /%(0?)(\d*)d/;

/** Format shard number `index` into `pattern` (exactly one %d / %0Nd placeholder). */
export function formatShardName(pattern: string, index: number): string {
  const matches = pattern.match(/%0?\d*d/g) ?? [];
  if (matches.length !== 1) {
    throw new Error(
      `shard pattern ${JSON.stringify(pattern)} must contain exactly one %d placeholder (e.g. out-%06d.tar)`,
    );
  }
  return pattern.replace(PLACEHOLDER, (_m, zero: string, width: string) =>
    String(index).padStart(width ? Number(width) : 0, zero ? '0' : ' '),
  );
}
