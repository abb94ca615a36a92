// The join key set of a subset list (OpenAI's yfcc100m_subset_data.tsv: line number, photo id,
// photo hash). Each entry is packed into one float64, photoId * 2^16 + (first 16 bits of the hash),
// exact for photo ids < 2^37, and the array is sorted natively; 14.8M keys take 119 MB whatever the
// size of the metadata being joined. The 16-bit hash check catches ids listed with another photo.
// A list entry with no hash (or a hash starting 0000) matches any hash.

const SHIFT = 65536;
const MAX_ID = 2 ** 37;

export class SubsetKeys {
  private readonly keys: Float64Array;
  constructor(keys: Float64Array) {
    this.keys = keys.sort();
  }
  get size(): number {
    return this.keys.length;
  }

  /** 'match', 'hash-mismatch' (id listed with another hash) or 'absent'. */
  lookup(photoId: number, photoHash: string): 'match' | 'hash-mismatch' | 'absent' {
    const base = photoId * SHIFT;
    let lo = 0,
      hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < base) lo = mid + 1;
      else hi = mid;
    }
    const want = hash16(photoHash);
    let found = false;
    for (let i = lo; i < this.keys.length && this.keys[i] < base + SHIFT; i++) {
      found = true;
      const h = this.keys[i] - base;
      if (h === want || h === 0 || want < 0) return 'match';
    }
    return found ? 'hash-mismatch' : 'absent';
  }
}

/** First 16 bits of a hex photo hash, or -1 when absent or not hex (then only the id is compared). */
export function hash16(hash: string): number {
  return /^[0-9a-fA-F]{4}/.test(hash) ? parseInt(hash.slice(0, 4), 16) : -1;
}

/** Growable builder used by the streaming subset reader. */
export class SubsetKeysBuilder {
  private keys = new Float64Array(1024);
  private n = 0;

  add(photoId: number, photoHash: string): void {
    if (!(Number.isInteger(photoId) && photoId >= 0 && photoId < MAX_ID))
      throw new RangeError(`subset list: photo id ${photoId} is not an integer in [0, 2^37)`);
    if (this.n === this.keys.length) {
      const k = new Float64Array(this.n * 2);
      k.set(this.keys);
      this.keys = k;
    }
    // A list entry without a hash is stored as 0, which matches any hash (as does a real 0000 prefix: 1 in 65536).
    this.keys[this.n++] = photoId * SHIFT + Math.max(0, hash16(photoHash));
  }

  build(): SubsetKeys {
    return new SubsetKeys(this.keys.slice(0, this.n));
  }
}
