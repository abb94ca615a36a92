// metrics.jsonl: one JSON record per line, appended as the run goes. `rewind` rewrites the file atomically without
// the records after the step a resumed or rolled-back run continues from (and without a line cut short by a crash);
// `flush` fsyncs it, so the records of a step are on disk before the step's checkpoint.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MetricsSink } from './writer.ts';

/** The records of a metrics file that survive rewinding to `step` (null: none). */
export function keptLines(text: string, step: number | null): string[] {
  if (step === null) return [];
  return text.split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      const r = JSON.parse(line) as { step?: number };
      return r.step === undefined || r.step <= step;
    } catch {
      return false; // a line cut short by a crash
    }
  });
}

export function jsonlSink(file: string): MetricsSink {
  let fd: number | undefined;
  const open = () => {
    if (fd === undefined) {
      mkdirSync(dirname(file), { recursive: true });
      fd = openSync(file, 'a');
    }
    return fd;
  };
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return {
    write(record) {
      writeSync(open(), JSON.stringify(record) + '\n');
    },
    rewind(step) {
      close();
      const kept = existsSync(file) ? keptLines(readFileSync(file, 'utf8'), step) : [];
      const tmp = `${file}.tmp-${process.pid}`;
      const out = openSync(tmp, 'w');
      try {
        writeSync(out, kept.map((l) => l + '\n').join(''));
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      renameSync(tmp, file);
    },
    flush() {
      if (fd !== undefined) fsyncSync(fd);
    },
    close,
  };
}
