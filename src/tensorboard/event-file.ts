// A TensorBoard event file as bytes: Events serialised and framed as TFRecords (tf-record.ts), in order. Reading
// checks every CRC and yields the events, and the scalar points they carry, in the shape TensorBoard shows them.
import { decodeEvent, encodeEvent, type Event } from './event-proto.ts';
import { eventScalars } from './scalar-events.ts';
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

export interface ScalarPoint {
  step: number;
  /** Seconds since the epoch. */
  wallTime: number;
  tag: string;
  value: number;
  pluginName?: string;
}

/** The scalar points of `events`, in file order. */
export function scalarPoints(events: readonly Event[]): ScalarPoint[] {
  return events.flatMap((e) => eventScalars(e).map((s) => ({ step: e.step ?? 0, wallTime: e.wallTime ?? 0, ...s })));
}
