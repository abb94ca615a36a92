// Scalar summaries as TensorFlow 2 writes them (tf.summary.scalar): one Event per value with the step and wall time,
// the value a rank-0 DT_FLOAT tensor (4 little-endian bytes in tensor_content) and plugin metadata naming the
// 'scalars' plugin; a file starts with an Event carrying file_version "brain.Event:2". Reading also accepts TF 1.x
// simple_value summaries and float_val tensors, the other forms TensorBoard reads as scalars.
import type { Event, SummaryValue } from './event-proto.ts';
import { DT_FLOAT } from './event-proto.ts';

export const FILE_VERSION = 'brain.Event:2';
export const SCALARS_PLUGIN = 'scalars';

/** The first event of every event file. */
export function fileVersionEvent(wallTime: number): Event {
  return { wallTime, fileVersion: FILE_VERSION };
}

/** One scalar (stored as float32, as TensorBoard keeps scalars) at `step`; wallTime in seconds since the epoch. */
export function scalarEvent(tag: string, value: number, step: number, wallTime: number): Event {
  const content = new Uint8Array(4);
  new DataView(content.buffer).setFloat32(0, value, true);
  return {
    wallTime,
    // proto3 leaves fields at their default out of the bytes: TensorFlow writes no step for step 0
    ...(step !== 0 ? { step } : {}),
    summary: {
      value: [
        {
          tag,
          tensor: { dtype: DT_FLOAT, tensorShape: {}, tensorContent: content },
          metadata: { pluginData: { pluginName: SCALARS_PLUGIN } },
        },
      ],
    },
  };
}

export interface Scalar {
  tag: string;
  value: number;
  /** 'scalars' for TF 2 tensor summaries; undefined for TF 1.x simple values (TensorBoard infers the plugin). */
  pluginName?: string;
}

/** The value of a summary that holds a scalar, or undefined (images, histograms, tensors of other shapes). */
export function scalarValue(v: SummaryValue): number | undefined {
  if (v.simpleValue !== undefined) return v.simpleValue;
  const t = v.tensor;
  if (!t || t.dtype !== DT_FLOAT || (t.tensorShape?.dim?.length ?? 0) > 0) return undefined;
  if (t.floatVal && t.floatVal.length > 0) return t.floatVal.length === 1 ? t.floatVal[0] : undefined;
  const c = t.tensorContent;
  if (!c || c.byteLength !== 4) return undefined;
  return new DataView(c.buffer, c.byteOffset, 4).getFloat32(0, true);
}

/** The scalars of one event (none for a file_version event or summaries of other kinds). */
export function eventScalars(e: Event): Scalar[] {
  const out: Scalar[] = [];
  for (const v of e.summary?.value ?? []) {
    const value = scalarValue(v);
    if (value === undefined || v.tag === undefined) continue;
    const pluginName = v.metadata?.pluginData?.pluginName;
    out.push(pluginName === undefined ? { tag: v.tag, value } : { tag: v.tag, value, pluginName });
  }
  return out;
}
