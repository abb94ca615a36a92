// The protocol-buffer messages of a TensorBoard event file, declared by reflection (protobufjs) from the field
// numbers of TensorFlow's event.proto, summary.proto, tensor.proto and tensor_shape.proto. Only what scalar
// summaries use is declared; unknown fields of other events (graphs, images, ...) are skipped when decoding.
//
//   Event            wall_time 1 (double), step 2 (int64), file_version 3 (string), summary 5 (Summary)
//   Summary          value 1 (repeated Value)
//   Summary.Value    tag 1, simple_value 2 (float; TF 1.x scalars), tensor 8 (TensorProto), metadata 9
//   SummaryMetadata  plugin_data 1 (PluginData), display_name 2, summary_description 3, data_class 4 (enum)
//   PluginData       plugin_name 1, content 2 (bytes)
//   TensorProto      dtype 1 (enum DataType: DT_FLOAT = 1), tensor_shape 2, tensor_content 4 (bytes), float_val 5
//   TensorShapeProto dim 2 (repeated Dim: size 1, name 2)
import protobuf from 'protobufjs';

const { Field, Type, Root } = protobuf;

export const DT_FLOAT = 1;

const dim = new Type('Dim').add(new Field('size', 1, 'int64')).add(new Field('name', 2, 'string'));
const tensorShape = new Type('TensorShapeProto').add(dim).add(new Field('dim', 2, 'Dim', 'repeated'));
const tensor = new Type('TensorProto')
  .add(new Field('dtype', 1, 'int32'))
  .add(new Field('tensorShape', 2, 'TensorShapeProto'))
  .add(new Field('tensorContent', 4, 'bytes'))
  .add(new Field('floatVal', 5, 'float', 'repeated', { packed: true }));
const pluginData = new Type('PluginData')
  .add(new Field('pluginName', 1, 'string'))
  .add(new Field('content', 2, 'bytes'));
const metadata = new Type('SummaryMetadata')
  .add(new Field('pluginData', 1, 'PluginData'))
  .add(new Field('displayName', 2, 'string'))
  .add(new Field('summaryDescription', 3, 'string'))
  .add(new Field('dataClass', 4, 'int32'));
const value = new Type('Value')
  .add(new Field('tag', 1, 'string'))
  .add(new Field('simpleValue', 2, 'float'))
  .add(new Field('tensor', 8, 'TensorProto'))
  .add(new Field('metadata', 9, 'SummaryMetadata'));
const summary = new Type('Summary').add(value).add(new Field('value', 1, 'Value', 'repeated'));
const event = new Type('Event')
  .add(new Field('wallTime', 1, 'double'))
  .add(new Field('step', 2, 'int64'))
  .add(new Field('fileVersion', 3, 'string'))
  .add(new Field('summary', 5, 'Summary'));
new Root().add(tensorShape).add(tensor).add(pluginData).add(metadata).add(summary).add(event);

export interface TensorProto {
  dtype?: number;
  tensorShape?: { dim?: Array<{ size?: number; name?: string }> };
  tensorContent?: Uint8Array;
  floatVal?: number[];
}
export interface SummaryMetadata {
  pluginData?: { pluginName?: string; content?: Uint8Array };
  displayName?: string;
  summaryDescription?: string;
  dataClass?: number;
}
export interface SummaryValue {
  tag?: string;
  simpleValue?: number;
  tensor?: TensorProto;
  metadata?: SummaryMetadata;
}
export interface Event {
  wallTime?: number;
  step?: number;
  fileVersion?: string;
  summary?: { value?: SummaryValue[] };
}

/** Serialise an Event; fields left undefined are not written (leave out proto3 defaults such as step 0). */
export function encodeEvent(e: Event): Uint8Array {
  return event.encode(e).finish();
}

/**
 * The step of a serialised Event and whether it carries a summary, read from its top-level fields only (protobufjs's
 * Reader, skipping the rest unparsed): what a rewind needs from each of the many events of a long run.
 */
export function eventStepOf(bytes: Uint8Array): { step: number; hasSummary: boolean } {
  const reader = protobuf.Reader.create(bytes);
  let step = 0;
  let hasSummary = false;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 2 && (tag & 7) === 0) step = Number(reader.int64());
    else {
      if (tag >>> 3 === 5) hasSummary = true;
      reader.skipType(tag & 7);
    }
  }
  return { step, hasSummary };
}

/** Parse an Event; fields this file does not declare are skipped. int64 steps come back as numbers. */
export function decodeEvent(bytes: Uint8Array): Event {
  return event.toObject(event.decode(bytes), { longs: Number, arrays: false, defaults: false }) as Event;
}
