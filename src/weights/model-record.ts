// What a clip-bench weights file says about its model beyond the tensor shapes, so whoever loads it uses the model
// as it was trained: the exact architecture (heads are not visible in shapes), the tokenizer (variant, context length,
// the vocabulary file's identity) and the image normalisation. It is written into the safetensors metadata (string
// values, one JSON document per key) of every checkpoint and of every file saveClipWeights writes:
//   clip_bench.config         the ClipConfig
//   clip_bench.tokenizer      {variant, contextLength, vocabSize, vocab: where it was read from, vocabSha256, vocabBytes}
//   clip_bench.normalisation  {name, mean, std}
//   clip_bench.preset / clip_bench.supervision   the run's model preset and method (for people reading the file)
import type { ClipConfig } from '../models/presets.ts';
import type { NormalizeStats } from '../image/presets.ts';

export const METADATA = {
  config: 'clip_bench.config',
  tokenizer: 'clip_bench.tokenizer',
  normalisation: 'clip_bench.normalisation',
  preset: 'clip_bench.preset',
  supervision: 'clip_bench.supervision',
} as const;

export interface TokenizerRecord {
  variant: 'openai' | 'declip';
  contextLength: number;
  vocabSize: number;
  /** Where the merges file was read from in training (an absolute path or a URL). */
  vocab: string;
  vocabSha256: string;
  vocabBytes: number;
}

export interface NormalisationRecord extends NormalizeStats {
  name: 'imagenet' | 'openai';
}

export interface ModelRecord {
  config: ClipConfig;
  tokenizer: TokenizerRecord;
  normalisation: NormalisationRecord;
  preset?: string;
  supervision?: string;
}

/** The record as safetensors metadata entries. */
export function modelRecordMetadata(record: Partial<ModelRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  if (record.config) out[METADATA.config] = JSON.stringify(record.config);
  if (record.tokenizer) out[METADATA.tokenizer] = JSON.stringify(record.tokenizer);
  if (record.normalisation) out[METADATA.normalisation] = JSON.stringify(record.normalisation);
  if (record.preset) out[METADATA.preset] = record.preset;
  if (record.supervision) out[METADATA.supervision] = record.supervision;
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isTriple = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number');

function parse(metadata: Record<string, string>, key: string, source: string): Record<string, unknown> | undefined {
  const raw = metadata[key];
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw new Error(`${source}: metadata "${key}" is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(value)) throw new Error(`${source}: metadata "${key}" is not a JSON object`);
  return value;
}

function checkConfig(c: Record<string, unknown>, source: string): ClipConfig {
  const bad = (what: string) => new Error(`${source}: metadata "${METADATA.config}" has ${what}`);
  if (!isInt(c.embedDim)) throw bad('no valid embedDim');
  const v = c.vision;
  const t = c.text;
  if (!isObject(v) || (v.type !== 'vit' && v.type !== 'modified-resnet')) throw bad('no valid vision tower');
  for (const k of ['imageSize', 'width', 'heads']) if (!isInt(v[k])) throw bad(`no valid vision.${k}`);
  if (v.type === 'vit' && !(isInt(v.patchSize) && isInt(v.layers))) throw bad('no valid vision.patchSize/layers');
  if (v.type === 'modified-resnet' && !(Array.isArray(v.layers) && v.layers.length === 4 && v.layers.every(isInt)))
    throw bad('no valid vision.layers');
  if (!isObject(t)) throw bad('no text tower');
  for (const k of ['vocabSize', 'contextLength', 'width', 'layers', 'heads'])
    if (!isInt(t[k])) throw bad(`no valid text.${k}`);
  return c as unknown as ClipConfig;
}

/** The record in a file's metadata (each part undefined when absent); a one-line error naming the file when malformed. */
export function readModelRecord(metadata: Record<string, string>, source: string): Partial<ModelRecord> {
  const out: Partial<ModelRecord> = {};
  const config = parse(metadata, METADATA.config, source);
  if (config) out.config = checkConfig(config, source);
  const tok = parse(metadata, METADATA.tokenizer, source);
  if (tok) {
    if (
      (tok.variant !== 'openai' && tok.variant !== 'declip') ||
      !isInt(tok.contextLength) ||
      !isInt(tok.vocabSize) ||
      typeof tok.vocab !== 'string' ||
      typeof tok.vocabSha256 !== 'string' ||
      !isInt(tok.vocabBytes)
    )
      throw new Error(`${source}: metadata "${METADATA.tokenizer}" is incomplete (${JSON.stringify(tok)})`);
    out.tokenizer = tok as unknown as TokenizerRecord;
  }
  const norm = parse(metadata, METADATA.normalisation, source);
  if (norm) {
    if ((norm.name !== 'imagenet' && norm.name !== 'openai') || !isTriple(norm.mean) || !isTriple(norm.std))
      throw new Error(`${source}: metadata "${METADATA.normalisation}" is incomplete (${JSON.stringify(norm)})`);
    out.normalisation = norm as unknown as NormalisationRecord;
  }
  if (metadata[METADATA.preset]) out.preset = metadata[METADATA.preset];
  if (metadata[METADATA.supervision]) out.supervision = metadata[METADATA.supervision];
  return out;
}

/** One line describing an architecture (heads included: they are what shapes do not show). */
export function describeConfig(c: ClipConfig): string {
  const v = c.vision;
  const vision =
    v.type === 'vit'
      ? `ViT ${v.imageSize}px patch ${v.patchSize}, ${v.layers} layers x ${v.width} wide, ${v.heads} heads`
      : `ResNet ${v.imageSize}px, blocks ${v.layers.join('-')}, width ${v.width}, ${v.heads} pool heads`;
  const t = c.text;
  return `${vision}; text ${t.layers} layers x ${t.width} wide, ${t.heads} heads, context ${t.contextLength}, vocab ${t.vocabSize}; embedding ${c.embedDim}`;
}
