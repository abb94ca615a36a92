// safetensors: 8-byte little-endian header length N, N bytes of JSON header
//   { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ..., "__metadata__": { str: str } }
// then the raw little-endian tensor bytes (offsets relative to the end of the header).
// Reading is zero-copy: each tensor's `bytes` is a view into the file buffer, and toFloat32/toInt32 return views
// (no copy) when the dtype already matches and the data is aligned; F16/BF16/F64/I64 etc. are converted.
import { readFile, writeFile } from 'node:fs/promises';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const ELEMENT_SIZE: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes (a view into the file buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Tensor to write: float32/int32 typed arrays (or raw bytes with an explicit dtype). */
export interface TensorToWrite {
  dtype?: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array | Float64Array | BigInt64Array | Uint8Array | Uint16Array;
}

/** What a file that is not safetensors looks like, for the error message. */
function notSafetensors(buf: Uint8Array, source: string): Error {
  const head = buf.subarray(0, 32);
  let what: string;
  if (head[0] === 0x50 && head[1] === 0x4b)
    what = 'a zip archive (a PyTorch .pt file? convert it with tools/convert-pt-to-safetensors.py)';
  else if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5)
    what = 'a Python pickle (convert it with tools/convert-pt-to-safetensors.py)';
  else if (head[0] === 0x1f && head[1] === 0x8b) what = 'a gzip file';
  else if (head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f)))
    what = `text (it starts with ${JSON.stringify(new TextDecoder().decode(head))})`;
  else what = 'of an unknown format';
  return new Error(
    `${source} is not a safetensors weights file: it is ${what}; a safetensors file starts with an 8-byte header length and a JSON header`,
  );
}

export function parseSafetensors(buf: Uint8Array, source = 'safetensors'): SafetensorsFile {
  // the header length is followed by the JSON header, which opens with "{"
  if (buf.byteLength < 10 || buf[8] !== 0x7b) throw notSafetensors(buf, source);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > buf.byteLength - 8)
    throw new Error(
      `${source}: truncated or not safetensors: the header length ${headerLen} exceeds the file size ${buf.byteLength}`,
    );
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new Error(`${source}: header is not a JSON object`);
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = info.dtype as SafetensorsDtype;
    if (!(dtype in ELEMENT_SIZE)) throw new Error(`${source}: tensor "${name}" has unsupported dtype ${info.dtype}`);
    if (!Array.isArray(info.shape) || !Array.isArray(info.data_offsets) || info.data_offsets.length !== 2) {
      throw new Error(`${source}: tensor "${name}" lacks shape or data_offsets`);
    }
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (!(begin >= 0 && end >= begin && end <= dataLen))
      throw new Error(`${source}: tensor "${name}" offsets [${begin}, ${end}] outside data (${dataLen} bytes)`);
    if (end - begin !== count * ELEMENT_SIZE[dtype]) {
      throw new Error(
        `${source}: tensor "${name}" has ${end - begin} bytes, shape [${info.shape}] ${dtype} needs ` +
          `${count * ELEMENT_SIZE[dtype]}`,
      );
    }
    tensors.set(name, { dtype, shape: info.shape.slice(), bytes: buf.subarray(dataStart + begin, dataStart + end) });
  }
  return { tensors, metadata };
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read weights file ${path}: ${(e as Error).message}`);
  }
  return parseSafetensors(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

function count(t: SafeTensor): number {
  return t.bytes.byteLength / ELEMENT_SIZE[t.dtype];
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Values as float32: a zero-copy view for aligned F32, otherwise a converted copy. */
export function toFloat32(t: SafeTensor): Float32Array {
  const n = count(t);
  const { bytes } = t;
  if (t.dtype === 'F32') {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    return new Float32Array(bytes.slice().buffer);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (t.dtype) {
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
      break;
    case 'BF16': {
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < n; i++) {
        u[0] = dv.getUint16(2 * i, true) << 16;
        out[i] = f[0];
      }
      break;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    default:
      for (let i = 0; i < n; i++) out[i] = bytes[i];
  }
  return out;
}

/** Values as int32 (I64 must fit): zero-copy for aligned I32. */
export function toInt32(t: SafeTensor): Int32Array {
  const n = count(t);
  const { bytes } = t;
  if (t.dtype === 'I32' && bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, n);
  if (t.dtype === 'I64') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = dv.getBigInt64(8 * i, true);
      if (v > 2147483647n || v < -2147483648n) throw new Error(`int64 value ${v} does not fit in int32`);
      out[i] = Number(v);
    }
    return out;
  }
  return Int32Array.from(toFloat32(t));
}

function dtypeOf(t: TensorToWrite): SafetensorsDtype {
  if (t.dtype) return t.dtype;
  if (t.data instanceof Float32Array) return 'F32';
  if (t.data instanceof Int32Array) return 'I32';
  if (t.data instanceof Float64Array) return 'F64';
  if (t.data instanceof BigInt64Array) return 'I64';
  if (t.data instanceof Uint16Array) return 'F16';
  return 'U8';
}

/** Serialise tensors (in the given order) to safetensors bytes; data start is padded to 8-byte alignment. */
export function serializeSafetensors(
  tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of entries) {
    const dtype = dtypeOf(t);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const expected = t.shape.reduce((a, b) => a * b, 1) * ELEMENT_SIZE[dtype];
    if (bytes.byteLength !== expected)
      throw new Error(
        `safetensors: "${name}" has ${bytes.byteLength} bytes, shape [${t.shape}] ${dtype} needs ${expected}`,
      );
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite> | Map<string, TensorToWrite>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFile(path, serializeSafetensors(tensors, metadata));
}
