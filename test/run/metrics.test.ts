// run/metrics: one writer for every record type, handing each record to its sinks (metrics.jsonl, the progress
// display, any other sink plugged in).
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsWriter, type MetricsSink } from '../../run/metrics/writer.ts';
import { jsonlSink } from '../../run/metrics/jsonl-sink.ts';
import { consoleSink } from '../../run/metrics/console-sink.ts';
import type { MetricsRecord, StepMetricsRecord } from '../../run/metrics/records.ts';

const time = '2020-01-01T00:00:00.000Z';
const step = (n: number): StepMetricsRecord => ({
  type: 'step',
  step: n,
  time,
  loss: 3 - n / 10,
  parts: { clip: 3 - n / 10 },
  lr: 1e-4 * n,
  gradNorm: 1,
  logitScales: { logit_scale: 14.29 },
  samples: 8,
  samplesPerSec: 80,
  dataWaitMs: 2,
  computeMs: 90,
  wallMs: 100,
});
const runRecord: MetricsRecord = {
  type: 'run',
  time,
  name: 't',
  startStep: 0,
  backend: 'wasm',
  threads: 1,
  model: 'tiny',
  supervision: 'clip',
  batchSize: 8,
  microBatchSize: 0,
  ranks: 1,
  lastStep: 6,
  parameters: 10,
  shards: 1,
};

test('every record goes through the writer to every sink, in order; a sink plugs in with one line', async (t) => {
  const seen: string[] = [];
  const sink: MetricsSink = { write: (r) => void seen.push(`${r.type}${'step' in r ? r.step : ''}`) };
  const writer = new MetricsWriter().add(sink);
  await writer.write(runRecord);
  await writer.write(step(1));
  await writer.write({ type: 'eval', step: 1, time, results: { a: 1 } });
  await writer.write({ type: 'rollback', time, atStep: 2, toStep: 1, lrScale: 0.997, reason: 'nan' });
  await writer.write({ type: 'end', time, status: 'finished', lastStep: 1 });
  t.deepEqual(seen, ['run', 'step1', 'eval1', 'rollback', 'end']);
});

test('metrics.jsonl: rewinding to a step drops the later step and eval records and a line cut short by a crash', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'metrics-')), 'metrics.jsonl');
  const writer = new MetricsWriter([jsonlSink(file)]);
  await writer.rewind(null);
  await writer.write(runRecord);
  for (let s = 1; s <= 4; s++) {
    await writer.write(step(s));
    if (s % 2 === 0) await writer.write({ type: 'eval', step: s, time, results: { acc: s } });
  }
  await writer.flush();
  await writer.close();
  appendFileSync(file, '{"type":"step","step":5,"lo'); // killed in the middle of a line
  const resumed = new MetricsWriter([jsonlSink(file)]);
  await resumed.rewind(2);
  await resumed.write(step(3));
  await resumed.close();
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.map((l) => `${l.type}${l.step ?? ''}`),
    ['run', 'step1', 'step2', 'eval2', 'step3'],
  );
  // a fresh start forgets everything
  const fresh = new MetricsWriter([jsonlSink(file)]);
  await fresh.rewind(null);
  await fresh.close();
  t.is(readFileSync(file, 'utf8'), '');
  writeFileSync(file, '');
});

test('console: plain lines every N steps (and the first and last), evaluations and rollbacks as lines', async (t) => {
  const lines: string[] = [];
  const writer = new MetricsWriter([consoleSink({ mode: 'plain', every: 3, write: (l) => lines.push(l) })]);
  await writer.write(runRecord);
  for (let s = 1; s <= 6; s++) await writer.write(step(s));
  await writer.write({ type: 'eval', step: 6, time, results: { 'x/acc1': 0.5 } });
  await writer.write({ type: 'rollback', time, atStep: 4, toStep: 3, lrScale: 0.997, reason: 'loss is NaN' });
  await writer.write({ type: 'end', time, status: 'finished', lastStep: 6 });
  t.deepEqual(
    lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['step 1/6', 'step 3/6', 'step 6/6', 'eval @', 'rollback: loss'],
  );
  t.is(lines[0], 'step 1/6 loss 2.9000 (clip 2.9000) lr 1.000e-4 scale 14.29 80.0 samples/s data-wait 2 ms');
  t.is(lines[3], 'eval @ step 6: x/acc1 0.5000');
  const none: string[] = [];
  const quiet = new MetricsWriter([consoleSink({ mode: 'none', every: 1, write: (l) => none.push(l) })]);
  await quiet.write(runRecord);
  await quiet.write(step(1));
  t.deepEqual(none, []);
});
