// A safetensors file (https://github.com/huggingface/safetensors: u64 LE header length, JSON header with dtype, shape
// and data_offsets per tensor plus optional "__metadata__", then the raw little-endian bytes) written as a list of
// chunks (header + tensor views, no concatenation copy) and read with zero-copy views when aligned.
// Used by checkpoints for the model weights (OpenAI names, PyTorch layout) and the AdamW moments.

export type FileDType = 'F32' | 'I32';
export interface FileTensor { shape: number[]; data: Float32Array | Int32Array }

export function encodeTensorFile(tensors: Record<string, FileTensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const bodies: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`safetensors: ${name} has shape [${t.shape}] but ${t.data.length} values`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: t.data instanceof Int32Array ? 'I32' : 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
    bodies.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data section to 8 bytes
  const head = Buffer.from(json, 'utf8');
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  return [prefix, head, ...bodies];
}

export function decodeTensorFile(bytes: Uint8Array, what = 'safetensors file'): { tensors: Record<string, FileTensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new Error(`${what}: truncated (${bytes.byteLength} bytes)`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > bytes.byteLength) throw new Error(`${what}: header length ${n} exceeds the file size ${bytes.byteLength}`);
  const header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8')) as Record<string, any>;
  const base = 8 + n;
  const tensors: Record<string, FileTensor> = {};
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = h.data_offsets as [number, number];
    if (base + end > bytes.byteLength) throw new Error(`${what}: ${name} runs past the end of the file (truncated?)`);
    const start = bytes.byteOffset + base + begin;
    const length = (end - begin) / 4;
    const Ctor = h.dtype === 'I32' ? Int32Array : h.dtype === 'F32' ? Float32Array : null;
    if (!Ctor) throw new Error(`${what}: ${name} has unsupported dtype ${h.dtype}`);
    const data = start % 4 === 0 ? new Ctor(bytes.buffer as ArrayBuffer, start, length) : new Ctor(bytes.slice(base + begin, base + end).buffer as ArrayBuffer);
    tensors[name] = { shape: h.shape as number[], data };
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as Record<string, string> };
}
