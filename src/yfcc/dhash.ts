// Difference hash (dHash) for near-duplicate detection: the image is reduced to 9x8 grey pixels,
// and bit (y*8+x) is set when pixel (x, y) is brighter than pixel (x+1, y). Two hashes within a
// small Hamming distance (default <= 4 of 64 bits) are treated as the same picture.
// The index splits the 64 bits into 5 bands (13,13,13,13,12 bits): by pigeonhole, any hash within
// distance 4 shares at least one band exactly, so a lookup only checks hashes in the same buckets.

/** dHash of a 9x8 (width x height) greyscale image given row-major. */
export function dHash(grey: Uint8Array | Buffer): bigint {
  if (grey.length !== 72) throw new RangeError(`dHash: expected 9x8 = 72 grey pixels, got ${grey.length}`);
  let h = 0n;
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      h <<= 1n;
      if (grey[y * 9 + x] > grey[y * 9 + x + 1]) h |= 1n;
    }
  return h;
}

export function hamming(a: bigint, b: bigint): number {
  let x = a ^ b,
    n = 0;
  while (x) {
    x &= x - 1n;
    n++;
  }
  return n;
}

const BANDS: Array<[number, number]> = [
  [0, 13],
  [13, 13],
  [26, 13],
  [39, 13],
  [52, 12],
];

export class NearDuplicateIndex {
  private buckets: Array<Map<number, bigint[]>> = BANDS.map(() => new Map());
  readonly maxDistance: number;
  size = 0;
  constructor(maxDistance = 4) {
    if (maxDistance > BANDS.length - 1)
      throw new RangeError(`NearDuplicateIndex: maxDistance must be <= ${BANDS.length - 1}`);
    this.maxDistance = maxDistance;
  }

  /** Returns the stored hash this one is near, or undefined after inserting it. */
  findOrAdd(h: bigint): bigint | undefined {
    const keys = BANDS.map(([shift, bits]) => Number((h >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n)));
    for (let b = 0; b < BANDS.length; b++) {
      for (const other of this.buckets[b].get(keys[b]) ?? []) if (hamming(h, other) <= this.maxDistance) return other;
    }
    for (let b = 0; b < BANDS.length; b++) {
      const list = this.buckets[b].get(keys[b]);
      if (list) list.push(h);
      else this.buckets[b].set(keys[b], [h]);
    }
    this.size++;
    return undefined;
  }
}

export function hashHex(h: bigint): string {
  return h.toString(16).padStart(16, '0');
}
