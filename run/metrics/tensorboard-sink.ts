// TensorBoard event files beside metrics.jsonl: every number of the step and eval records becomes a scalar that
// TensorBoard (and the trackers that import its files) reads, with the record's step and time.
//
//   step record   loss -> loss/total, parts.<p> -> loss/<p>, lr -> train/lr, gradNorm -> train/grad_norm,
//                 logitScales.<s> -> logit_scale/<s>, samplesPerSec -> speed/samples_per_sec, samples -> speed/samples,
//                 dataWaitMs / computeMs / wallMs -> speed/data_wait_ms / compute_ms / wall_ms,
//                 any other number <f> -> train/<f>
//   eval record   results.<k> -> eval/<k>   (e.g. eval/imagenet1k/acc1)
//
// Files are named events.out.tfevents.<seconds>.<host>.<pid>.<n> and start with a file_version event. A rewind (a
// resumed or rolled-back run, or a fresh start) rewrites the directory's event files into one new file without the
// points after the step the run continues from, the way metrics.jsonl is rewritten, so both always hold the same
// scalars; TensorBoard then never sees a step twice.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { eventRecord } from '../../src/tensorboard/event-file.ts';
import { eventStepOf, type Event } from '../../src/tensorboard/event-proto.ts';
import { readRecords } from '../../src/tensorboard/tf-record.ts';
import { fileVersionEvent, scalarEvent } from '../../src/tensorboard/scalar-events.ts';
import type { MetricsRecord } from './records.ts';
import type { MetricsSink } from './writer.ts';

const stepTags: Record<string, string> = {
  loss: 'loss/total',
  lr: 'train/lr',
  gradNorm: 'train/grad_norm',
  samplesPerSec: 'speed/samples_per_sec',
  samples: 'speed/samples',
  dataWaitMs: 'speed/data_wait_ms',
  computeMs: 'speed/compute_ms',
  wallMs: 'speed/wall_ms',
};
const stepGroups: Record<string, string> = { parts: 'loss', logitScales: 'logit_scale' };

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The TensorBoard scalars of one metrics record (none for run, rollback and end records). */
export function recordScalars(r: MetricsRecord): Array<{ tag: string; value: number }> {
  const out: Array<{ tag: string; value: number }> = [];
  if (r.type === 'eval') {
    for (const [k, v] of Object.entries(r.results)) if (isNumber(v)) out.push({ tag: `eval/${k}`, value: v });
    return out;
  }
  if (r.type !== 'step') return out;
  for (const [field, v] of Object.entries(r)) {
    if (field === 'step') continue;
    if (isNumber(v)) out.push({ tag: stepTags[field] ?? `train/${field}`, value: v });
    else if (field in stepGroups && v && typeof v === 'object')
      for (const [k, x] of Object.entries(v as Record<string, unknown>))
        if (isNumber(x)) out.push({ tag: `${stepGroups[field]}/${k}`, value: x });
  }
  return out;
}

export const isEventFileName = (name: string) => name.startsWith('events.out.tfevents.');

/** A metrics sink writing TensorBoard event files into `dir` (the run directory). */
export function tensorboardSink(dir: string): Required<MetricsSink> {
  let fd: number | undefined;
  let files = 0;
  const newName = () => `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}.${files++}`;
  const bytesOf = (events: Event[]) => Buffer.concat(events.map(eventRecord));
  const open = () => {
    if (fd === undefined) {
      mkdirSync(dir, { recursive: true });
      fd = openSync(join(dir, newName()), 'a');
      writeSync(fd, bytesOf([fileVersionEvent(Date.now() / 1000)]));
    }
    return fd;
  };
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return {
    write(record) {
      const scalars = recordScalars(record);
      if (scalars.length === 0) return;
      const step = record.type === 'step' || record.type === 'eval' ? record.step : 0;
      const time = Date.parse(record.time);
      const wallTime = (Number.isFinite(time) ? time : Date.now()) / 1000;
      writeSync(open(), bytesOf(scalars.map((s) => scalarEvent(s.tag, s.value, step, wallTime))));
    },
    rewind(step) {
      close();
      let names: string[];
      try {
        names = readdirSync(dir).filter(isEventFileName).sort();
      } catch {
        return; // no run directory yet: nothing written before
      }
      if (names.length === 0) return;
      // Records are copied as they are (only their step is read); a record cut short by a kill is left out.
      const kept: Uint8Array[] = [bytesOf([fileVersionEvent(Date.now() / 1000)])];
      for (const name of names) {
        const bytes = new Uint8Array(readFileSync(join(dir, name)));
        const { records, starts } = readRecords(bytes, join(dir, name));
        if (step === null) continue;
        records.forEach((data, i) => {
          const e = eventStepOf(data);
          if (e.hasSummary && e.step <= step) kept.push(bytes.subarray(starts[i], starts[i] + data.byteLength + 16));
        });
      }
      const name = newName();
      const tmp = join(dir, `.${name}.tmp`);
      const out = openSync(tmp, 'w');
      try {
        writeSync(out, Buffer.concat(kept));
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      renameSync(tmp, join(dir, name));
      for (const old of names) if (old !== name) rmSync(join(dir, old), { force: true });
      fd = openSync(join(dir, name), 'a');
    },
    flush() {
      if (fd !== undefined) fsyncSync(fd);
    },
    close,
  };
}
