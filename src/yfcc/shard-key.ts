// img2dataset-style sample keys and shard names: the input table is cut into slices of
// `rowsPerShard` rows; slice s becomes shard s, and row j of it gets key s * 10^digits + j
// zero-padded (digits = ceil(log10(rowsPerShard))), e.g. 000010005 = shard 1, row 5 at 10,000/shard.
// Keys never depend on which images failed, so a rerun or another part produces the same names.

export function keyDigits(rowsPerShard: number): number {
  return Math.max(1, Math.ceil(Math.log10(rowsPerShard)));
}

export function sampleKey(shard: number, index: number, rowsPerShard: number, shardDigits = 5): string {
  const d = keyDigits(rowsPerShard);
  return String(shard).padStart(shardDigits, '0') + String(index).padStart(d, '0');
}

export function shardName(shard: number, shardDigits = 5): string {
  return String(shard).padStart(shardDigits, '0');
}
