// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
// where masked(crc) = ((crc >>> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32), as TensorFlow's record writer does.
import { createRequire } from 'node:module';

const crc32c = createRequire(import.meta.url)('crc-32/crc32c.js') as { buf(data: Uint8Array, seed?: number): number };

/** TensorFlow's masked CRC-32C (Castagnoli) of `data`. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c.buf(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One record around `data`. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.byteLength + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.byteLength), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.byteLength, maskedCrc32c(data), true);
  return out;
}

export interface ReadRecords {
  /** The data of every complete record, in order (views into the input). */
  records: Uint8Array[];
  /** Where each record, framing included, starts in the input (it ends where the next starts). */
  starts: number[];
  /** Bytes after the last complete record: a record cut short at the end (a writer killed mid-write), or 0. */
  trailingBytes: number;
}

/**
 * Split `bytes` into records, checking both CRCs of each. A record cut short at the end is not an error (TensorFlow's
 * readers stop there too); a CRC mismatch is, naming `source` and the byte offset of the record.
 */
export function readRecords(bytes: Uint8Array, source = 'records'): ReadRecords {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  const starts: number[] = [];
  let offset = 0;
  while (offset + 12 <= bytes.byteLength) {
    const length = view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;
    if (view.getUint32(offset + 8, true) !== maskedCrc32c(bytes.subarray(offset, offset + 8)))
      throw new Error(`${source}: record at byte ${offset}: length CRC mismatch (not a TFRecord file, or corrupt)`);
    const end = offset + 12 + length + 4;
    if (end > bytes.byteLength) break;
    const data = bytes.subarray(offset + 12, end - 4);
    if (view.getUint32(end - 4, true) !== maskedCrc32c(data))
      throw new Error(`${source}: record at byte ${offset}: data CRC mismatch (corrupt record)`);
    records.push(data);
    starts.push(offset);
    offset = end;
  }
  return { records, starts, trailingBytes: bytes.byteLength - offset };
}
