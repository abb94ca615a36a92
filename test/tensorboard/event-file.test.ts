// The event-file reader and writer against a file TensorFlow 2 wrote (../shared/data/tensorboard:
// tf.summary.scalar("my_metric", 0.5 * step) for steps 0..99): every CRC checks, the reader yields the file_version
// event and 100 scalar points, and our encoder reproduces TensorFlow's bytes exactly from the decoded values.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { sharedData } from '../helpers/shared-data.ts';
import { eventRecord, readEventFile } from '../../src/tensorboard/event-file.ts';
import { scalarPoints } from '../helpers/tensorboard-dir.ts';
import { decodeEvent, encodeEvent, eventStepOf } from '../../src/tensorboard/event-proto.ts';
import { eventScalars, fileVersionEvent, scalarEvent } from '../../src/tensorboard/scalar-events.ts';
import { frameRecord, maskedCrc32c, readRecords } from '../../src/tensorboard/tf-record.ts';

const tfFile = () =>
  new Uint8Array(readFileSync(sharedData('data/tensorboard/events.out.tfevents.1585499054.tf2-scalars.v2')));

test('masked CRC-32C: the Castagnoli check value and TensorFlow masking', (t) => {
  const digits = new TextEncoder().encode('123456789');
  const crc = 0xe3069283; // CRC-32C check value of "123456789"
  t.is(maskedCrc32c(digits), ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0);
  t.is(maskedCrc32c(new Uint8Array(0)), 0xa282ead8);
});

test('reads the TensorFlow 2 file: file_version first, then my_metric = 0.5 * step for steps 0..99', (t) => {
  const bytes = tfFile();
  const { events, trailingBytes } = readEventFile(bytes, 'tf2 file');
  t.is(trailingBytes, 0);
  t.is(events.length, 101);
  t.is(events[0].fileVersion, 'brain.Event:2');
  t.is(events[0].summary, undefined);
  const points = scalarPoints(events);
  t.deepEqual(
    points.map((p) => p.step),
    Array.from({ length: 100 }, (_, i) => i),
  );
  for (const p of points) {
    t.is(p.tag, 'my_metric');
    t.is(p.value, 0.5 * p.step);
    t.is(p.pluginName, 'scalars');
    t.true(p.wallTime > 1585499054 && p.wallTime < 1585499055);
  }
  t.true(points.every((p, i) => i === 0 || p.wallTime >= points[i - 1].wallTime));
  // the step-only view a rewind uses agrees with full decoding
  const { records } = readRecords(bytes);
  t.deepEqual(
    records.map((r) => eventStepOf(r)),
    events.map((e) => ({ step: e.step ?? 0, hasSummary: e.summary !== undefined })),
  );
});

test("our encoder writes TensorFlow's bytes: its events re-encoded from their decoded values", (t) => {
  const bytes = tfFile();
  const { records } = readRecords(bytes);
  let offset = 0;
  records.forEach((data, i) => {
    const e = decodeEvent(data);
    const ours =
      i === 0
        ? eventRecord(fileVersionEvent(e.wallTime!))
        : eventRecord(scalarEvent('my_metric', 0.5 * (e.step ?? 0), e.step ?? 0, e.wallTime!));
    t.deepEqual(Buffer.from(ours), Buffer.from(bytes.subarray(offset, offset + ours.byteLength)), `record ${i}`);
    offset += ours.byteLength;
  });
  t.is(offset, bytes.byteLength);
});

test('a corrupt record is an error naming its offset; a record cut short at the end is left out', (t) => {
  const bytes = tfFile();
  const first = readRecords(bytes).records[0].byteLength + 16;
  const flipped = bytes.slice();
  flipped[first + 20] ^= 0x01; // inside the data of record 1
  t.throws(() => readEventFile(flipped, 'flipped'), {
    message: `flipped: record at byte ${first}: data CRC mismatch (corrupt record)`,
  });
  const badLength = bytes.slice();
  badLength[first] ^= 0x01;
  t.throws(() => readEventFile(badLength, 'bad'), { message: /bad: record at byte \d+: length CRC mismatch/ });
  const cut = bytes.subarray(0, bytes.byteLength - 7);
  const r = readEventFile(cut);
  t.is(r.events.length, 100);
  t.true(r.trailingBytes > 0);
});

test('other scalar forms TensorBoard reads: TF 1.x simple_value, float_val tensors; non-scalars skipped', (t) => {
  const simple = decodeEvent(
    encodeEvent({ wallTime: 1, step: 3, summary: { value: [{ tag: 'a', simpleValue: 0.25 }] } }),
  );
  t.deepEqual(eventScalars(simple), [{ tag: 'a', value: 0.25 }]);
  const floatVal = decodeEvent(
    encodeEvent({
      step: 4,
      summary: { value: [{ tag: 'b', tensor: { dtype: 1, tensorShape: {}, floatVal: [1.5] } }] },
    }),
  );
  t.deepEqual(eventScalars(floatVal), [{ tag: 'b', value: 1.5 }]);
  const vector = { dtype: 1, tensorShape: { dim: [{ size: 2 }] }, floatVal: [1, 2] };
  t.deepEqual(eventScalars(decodeEvent(encodeEvent({ summary: { value: [{ tag: 'v', tensor: vector }] } }))), []);
  // framing round trip of arbitrary data
  const data = new Uint8Array([1, 2, 3]);
  t.deepEqual(readRecords(frameRecord(data)).records, [data]);
});
