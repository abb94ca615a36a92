// Reads every TensorBoard event file of a directory with the project's reader (src/tensorboard/event-file.ts, the
// reader checked against a file TensorFlow wrote): the events per file and all scalar points in file order.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEventFile, scalarPoints, type ScalarPoint } from '../../src/tensorboard/event-file.ts';
import type { Event } from '../../src/tensorboard/event-proto.ts';

export function readTensorboardDir(dir: string): { files: string[]; events: Event[][]; points: ScalarPoint[] } {
  const files = readdirSync(dir)
    .filter((n) => n.includes('tfevents'))
    .sort();
  const events = files.map((n) => readEventFile(new Uint8Array(readFileSync(join(dir, n))), n).events);
  return { files, events, points: events.flatMap((e) => scalarPoints(e)) };
}
