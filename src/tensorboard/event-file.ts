// A TensorBoard event file as bytes: Events serialised and framed as TFRecords (tf-record.ts), in order. Reading
// checks every CRC and yields the events (scalar-events.ts reads the scalars they carry).
import { decodeEvent, encodeEvent, type Event } from './event-proto.ts';
import { frameRecord, readRecords } from './tf-record.ts';

/** The bytes of one event in an event file. */
export function eventRecord(e: Event): Uint8Array {
  return frameRecord(encodeEvent(e));
}

/** Every event of an event file; trailingBytes > 0 when the last record was cut short (a writer killed mid-write). */
export function readEventFile(bytes: Uint8Array, source = 'event file'): { events: Event[]; trailingBytes: number } {
  const { records, trailingBytes } = readRecords(bytes, source);
  return {
    events: records.map((r, i) => {
      try {
        return decodeEvent(r);
      } catch (err) {
        throw new Error(`${source}: record ${i} is not an Event: ${(err as Error).message}`);
      }
    }),
    trailingBytes,
  };
}
