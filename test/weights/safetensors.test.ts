import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseSafetensors,
  serializeSafetensors,
  readSafetensors,
  writeSafetensors,
  toFloat32,
  toInt32,
} from '../../src/weights/safetensors.ts';

test('write -> read keeps names, order, shapes, dtypes, values, metadata; F32 reads are zero-copy views', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
  try {
    const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
    const b = Int32Array.from([7, -3, 2 ** 30]);
    const c = BigInt64Array.from([5n, -9n]);
    const file = path.join(dir, 'x.safetensors');
    await writeSafetensors(
      file,
      { a: { shape: [2, 3], data: a }, b: { shape: [3], data: b }, c: { dtype: 'I64', shape: [2], data: c } },
      { note: 'hi' },
    );
    const r = await readSafetensors(file);
    t.deepEqual([...r.tensors.keys()], ['a', 'b', 'c']);
    t.deepEqual(r.metadata, { note: 'hi' });
    const ta = r.tensors.get('a')!;
    t.is(ta.dtype, 'F32');
    t.deepEqual(ta.shape, [2, 3]);
    const fa = toFloat32(ta);
    t.deepEqual(Array.from(fa), Array.from(a));
    t.is(fa.buffer, ta.bytes.buffer, 'aligned F32 is a view into the file buffer, not a copy');
    t.deepEqual(Array.from(toInt32(r.tensors.get('b')!)), Array.from(b));
    t.deepEqual(Array.from(toInt32(r.tensors.get('c')!)), [5, -9]);
    // header is padded so data begins 8-byte aligned
    const bytes = serializeSafetensors({ a: { shape: [2, 3], data: a } });
    t.is(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('F16 and BF16 decode exactly; misaligned F32 is copied correctly', (t) => {
  // F16: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001
  const half = Uint16Array.from([0x3c00, 0xc100, 0x7bff, 0x0001]);
  const bf = Uint16Array.from([0x3f80, 0xc020]); // 1.0, -2.5
  const bytes = serializeSafetensors({
    h: { dtype: 'F16', shape: [4], data: half },
    g: { dtype: 'BF16', shape: [2], data: bf },
    f: { shape: [1], data: Float32Array.from([3.25]) },
  });
  const r = parseSafetensors(bytes);
  t.deepEqual(Array.from(toFloat32(r.tensors.get('h')!)), [1, -2.5, 65504, 2 ** -24]);
  t.deepEqual(Array.from(toFloat32(r.tensors.get('g')!)), [1, -2.5]);
  // shift the whole file by one byte: F32 data becomes misaligned
  const shifted = new Uint8Array(bytes.byteLength + 1);
  shifted.set(bytes, 1);
  const r2 = parseSafetensors(shifted.subarray(1));
  t.deepEqual(Array.from(toFloat32(r2.tensors.get('f')!)), [3.25]);
});

test('reads the PyTorch-written fixture (hand-written by reference/models_reference.py)', async (t) => {
  const r = await readSafetensors(
    fileURLToPath(new URL('../../fixtures/parity/models/rn.safetensors', import.meta.url)),
  );
  t.is(r.tensors.get('visual.conv1.weight')!.dtype, 'F16');
  t.deepEqual(r.tensors.get('visual.conv1.weight')!.shape, [2, 3, 3, 3]);
  t.is(r.tensors.get('visual.bn1.num_batches_tracked')!.dtype, 'I64');
  t.deepEqual(Array.from(toInt32(r.tensors.get('visual.bn1.num_batches_tracked')!)), [7]);
});

test('malformed files give one-line errors', (t) => {
  t.throws(() => parseSafetensors(new Uint8Array(4), 'f'), { message: /^f is not a safetensors weights file/ });
  const big = new Uint8Array(16);
  new DataView(big.buffer).setBigUint64(0, 1000n, true);
  big[8] = 0x7b;
  t.throws(() => parseSafetensors(big, 'f'), {
    message: /f: truncated or not safetensors: the header length 1000 exceeds the file size 16/,
  });
  const bad = new Uint8Array(12);
  new DataView(bad.buffer).setBigUint64(0, 4n, true);
  bad.set([123, 120, 120, 120], 8);
  t.throws(() => parseSafetensors(bad, 'f'), { message: /header is not valid JSON/ });
  const good = serializeSafetensors({ a: { shape: [2], data: Float32Array.from([1, 2]) } });
  t.throws(() => parseSafetensors(good.subarray(0, good.byteLength - 4), 'f'), {
    message: /offsets \[0, 8\] outside data/,
  });
  t.throws(() => serializeSafetensors({ a: { shape: [3], data: Float32Array.from([1, 2]) } }), { message: /needs 12/ });
});

test('a file that is not safetensors is named and described, not read as a header length', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
  try {
    const text = path.join(dir, 'notes.txt');
    await writeFile(text, 'these are my notes about the model, not weights\n');
    const e = await t.throwsAsync(readSafetensors(text));
    t.is(
      e!.message,
      `${text} is not a safetensors weights file: it is text (it starts with "these are my notes about the mod"); ` +
        'a safetensors file starts with an 8-byte header length and a JSON header',
    );
    const pt = path.join(dir, 'model.pt');
    await writeFile(pt, Buffer.from('PK\x03\x04archive/data.pkl'));
    await t.throwsAsync(readSafetensors(pt), {
      message: /model\.pt is not a safetensors weights file: it is a zip archive/,
    });
    const empty = path.join(dir, 'empty.safetensors');
    await writeFile(empty, '');
    await t.throwsAsync(readSafetensors(empty), { message: /empty\.safetensors is not a safetensors weights file/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
