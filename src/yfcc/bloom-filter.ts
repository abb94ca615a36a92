// A Bloom filter over strings, sized from (capacity, false-positive rate):
//   bits m = ceil(-n ln p / (ln 2)^2), hashes k = round(m/n ln 2).
// Memory is fixed at construction (m/8 bytes) whatever the input size; with n = 20M keys at
// p = 1e-6 that is 69 MiB. Past `capacity` insertions the real FP rate grows; `expectedFalsePositiveRate()`
// reports the rate for the current fill so the report can state it.
// Hashing: MD5 of the UTF-8 key gives two independent 32-bit words (a, b), index_i = (a + i*b) mod m
// (Kirsch-Mitzenmacher double hashing).
import { createHash } from 'node:crypto';

export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  readonly capacity: number;
  readonly targetRate: number;
  private readonly words: Uint32Array;
  private inserted = 0;

  constructor(capacity: number, falsePositiveRate: number) {
    if (!(capacity >= 1)) throw new RangeError(`BloomFilter: capacity must be >= 1, got ${capacity}`);
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1))
      throw new RangeError(`BloomFilter: false-positive rate must be in (0, 1), got ${falsePositiveRate}`);
    this.capacity = capacity;
    this.targetRate = falsePositiveRate;
    this.bits = Math.max(64, Math.ceil((-capacity * Math.log(falsePositiveRate)) / (Math.LN2 * Math.LN2)));
    this.hashes = Math.max(1, Math.round((this.bits / capacity) * Math.LN2));
    this.words = new Uint32Array(Math.ceil(this.bits / 32));
  }

  get byteLength(): number {
    return this.words.byteLength;
  }
  get count(): number {
    return this.inserted;
  }

  private indexes(key: string): number[] {
    const d = createHash('md5').update(key).digest();
    const a = d.readUInt32LE(0),
      b = (d.readUInt32LE(4) | 1) >>> 0;
    const out = new Array<number>(this.hashes);
    for (let i = 0; i < this.hashes; i++) out[i] = (a + i * b) % this.bits;
    return out;
  }

  /** Insert `key`; returns true when it was (probably) present already. */
  testAndAdd(key: string): boolean {
    let present = true;
    for (const idx of this.indexes(key)) {
      const w = idx >>> 5,
        bit = 1 << (idx & 31);
      if ((this.words[w] & bit) === 0) {
        present = false;
        this.words[w] |= bit;
      }
    }
    if (!present) this.inserted++;
    return present;
  }

  has(key: string): boolean {
    for (const idx of this.indexes(key)) if ((this.words[idx >>> 5] & (1 << (idx & 31))) === 0) return false;
    return true;
  }

  /** FP probability for the current number of inserted keys: (1 - e^{-kn/m})^k. */
  expectedFalsePositiveRate(): number {
    return Math.pow(1 - Math.exp((-this.hashes * this.inserted) / this.bits), this.hashes);
  }
}
