// Whole-shard compression, detected from the first bytes (like tarfile mode "r|*").

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz';

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2'; // "BZh"
  if (
    head.length >= 6 &&
    head[0] === 0xfd &&
    head[1] === 0x37 &&
    head[2] === 0x7a &&
    head[3] === 0x58 &&
    head[4] === 0x5a &&
    head[5] === 0x00
  )
    return 'xz';
  return 'none';
}

/** Bytes a tar member occupies after its header: data padded to a 512-byte block. */
export function paddedSize(size: number): number {
  return Math.ceil(size / 512) * 512;
}
