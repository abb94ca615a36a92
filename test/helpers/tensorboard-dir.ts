// Reads TensorBoard event files with the project's reader (src/tensorboard/event-file.ts, checked against a file
// TensorFlow wrote) into the shape TensorBoard shows: scalar points with step, wall time, tag, value and plugin.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEventFile } from '../../src/tensorboard/event-file.ts';
import type { Event } from '../../src/tensorboard/event-proto.ts';
import { eventScalars } from '../../src/tensorboard/scalar-events.ts';

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

/** Every event file of `dir` (names containing 'tfevents', in name order): their events and scalar points. */
export function readTensorboardDir(dir: string): { files: string[]; events: Event[][]; points: ScalarPoint[] } {
  const files = readdirSync(dir)
    .filter((n) => n.includes('tfevents'))
    .sort();
  const events = files.map((n) => readEventFile(new Uint8Array(readFileSync(join(dir, n))), n).events);
  return { files, events, points: events.flatMap((e) => scalarPoints(e)) };
}
