// The TensorBoard sink of the metrics writer: step and eval records become TF 2 scalar events (read back with the
// reader that reads TensorFlow's own file), a rewind keeps exactly the points up to the step a run continues from,
// and a record cut short by a kill does not survive the next rewind.
import test from 'ava';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordScalars, tensorboardSink } from '../../run/metrics/tensorboard-sink.ts';
import type { EvalRecord, MetricsRecord, StepMetricsRecord } from '../../run/metrics/records.ts';
import { readTensorboardDir } from '../helpers/tensorboard-dir.ts';

const time = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const stepRecord = (step: number): StepMetricsRecord => ({
  type: 'step',
  step,
  time: time(step),
  loss: 3 - step / 10,
  parts: { mv: 1 + step / 3, nn: 0.1 },
  lr: 1e-4 * step,
  gradNorm: 2.5,
  logitScales: { logit_scale: 14.285714, logit_scale_dense: 20.1 },
  samples: 8,
  samplesPerSec: 123.456,
  dataWaitMs: 1.5,
  computeMs: 40,
  wallMs: 42,
});
const evalRecord = (step: number): EvalRecord => ({
  type: 'eval',
  step,
  time: time(step),
  results: { 'demo-color/acc1': 0.25 + step / 100, 'demo-color/acc5': 0.9, 'demo-color/chance': 0.125 },
});
const others: MetricsRecord[] = [
  {
    type: 'run',
    time: time(0),
    name: 'x',
    startStep: 0,
    backend: 'wasm',
    threads: 1,
    model: 'tiny',
    supervision: 'clip',
    batchSize: 8,
    microBatchSize: 4,
    ranks: 1,
    lastStep: 4,
    parameters: 1000,
    shards: 4,
  },
  { type: 'rollback', time: time(3), atStep: 3, toStep: 2, lrScale: 0.997, reason: 'NaN' },
  { type: 'end', time: time(5), status: 'finished', lastStep: 4 },
];

/** What the directory should hold for `records`: every scalar of every record, float32, with step and time. */
const expected = (records: MetricsRecord[]) =>
  records.flatMap((r) =>
    recordScalars(r).map((s) => ({
      step: r.type === 'step' || r.type === 'eval' ? r.step : 0,
      wallTime: Date.parse(r.time) / 1000,
      tag: s.tag,
      value: Math.fround(s.value),
      pluginName: 'scalars',
    })),
  );

test('step and eval records become scalars; run, rollback and end records none', (t) => {
  t.deepEqual(recordScalars(stepRecord(2)), [
    { tag: 'loss/total', value: 2.8 },
    { tag: 'loss/mv', value: 1 + 2 / 3 },
    { tag: 'loss/nn', value: 0.1 },
    { tag: 'train/lr', value: 2e-4 },
    { tag: 'train/grad_norm', value: 2.5 },
    { tag: 'logit_scale/logit_scale', value: 14.285714 },
    { tag: 'logit_scale/logit_scale_dense', value: 20.1 },
    { tag: 'speed/samples', value: 8 },
    { tag: 'speed/samples_per_sec', value: 123.456 },
    { tag: 'speed/data_wait_ms', value: 1.5 },
    { tag: 'speed/compute_ms', value: 40 },
    { tag: 'speed/wall_ms', value: 42 },
  ]);
  t.deepEqual(
    recordScalars(evalRecord(0)).map((s) => s.tag),
    ['eval/demo-color/acc1', 'eval/demo-color/acc5', 'eval/demo-color/chance'],
  );
  // a number the step record gains later is not lost: train/<field>
  const grown = { ...stepRecord(1), newCounter: 7, note: 'x' } as StepMetricsRecord;
  t.deepEqual(recordScalars(grown).at(-1), { tag: 'train/newCounter', value: 7 });
  for (const r of others) t.deepEqual(recordScalars(r), []);
});

test('one event file, file_version first, one scalar per event in the TF 2 form, same values as the records', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-sink-'));
  const records = [others[0], evalRecord(0), stepRecord(1), stepRecord(2), evalRecord(2), others[2]];
  const sink = tensorboardSink(dir);
  for (const r of records) sink.write(r);
  sink.flush();
  sink.close();
  const tb = readTensorboardDir(dir);
  t.is(tb.files.length, 1);
  t.regex(tb.files[0], /^events\.out\.tfevents\.\d{10}\.[^.]+\.\d+\.0$/);
  t.is(tb.events[0][0].fileVersion, 'brain.Event:2');
  t.true(tb.events[0].slice(1).every((e) => e.summary?.value?.length === 1 && e.summary.value[0].tensor?.dtype === 1));
  t.deepEqual(tb.points, expected(records));
  rmSync(dir, { recursive: true });
});

test('rewind keeps points up to the step the run continues from, drops a cut-short record, appends after', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-rewind-'));
  let sink = tensorboardSink(dir);
  for (const r of [evalRecord(0), stepRecord(1), stepRecord(2), stepRecord(3), evalRecord(3)]) sink.write(r);
  sink.close();
  // killed mid-write: half a record at the end of the file
  const [file] = readdirSync(dir);
  appendFileSync(join(dir, file), Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
  // the resumed session continues after step 2 (its last checkpoint): steps 3.. are recorded again
  sink = tensorboardSink(dir);
  sink.rewind(2);
  for (const r of [stepRecord(3), stepRecord(4), evalRecord(4)]) sink.write(r);
  sink.close();
  const tb = readTensorboardDir(dir);
  t.is(tb.files.length, 1, 'the old file is replaced');
  t.deepEqual(
    tb.points,
    expected([evalRecord(0), stepRecord(1), stepRecord(2), stepRecord(3), stepRecord(4), evalRecord(4)]),
  );
  // a fresh start forgets everything
  sink = tensorboardSink(dir);
  sink.rewind(null);
  sink.write(stepRecord(1));
  sink.close();
  t.deepEqual(readTensorboardDir(dir).points, expected([stepRecord(1)]));
  // rewinding a directory that does not exist yet is a no-op
  t.notThrows(() => tensorboardSink(join(dir, 'missing')).rewind(3));
  rmSync(dir, { recursive: true });
});
