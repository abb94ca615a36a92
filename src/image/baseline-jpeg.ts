// A decoder for plain baseline JPEGs that gives exactly the pixels libjpeg-turbo gives with its default settings
// (the decoder behind both sharp and Pillow): accurate integer IDCT (jidctint.c), "fancy" triangle-filter chroma
// upsampling (jdsample.c), the YCbCr -> RGB tables of jdcolor.c. Decoding a small image this way costs a few
// microseconds per 8x8 block instead of sharp's fixed ~1 ms per call, which dominates tiny images (CIFAR's 32x32).
//
// It only takes what it can decode exactly and returns undefined for everything else, which the caller hands to
// sharp: progressive, arithmetic-coded, 12-bit or lossless files, restart intervals, sampling other than 4:4:4 and
// 4:2:0 (and grayscale), images 4 pixels wide or less, Adobe (RGB/CMYK) and non-YCbCr component ids, an embedded
// ICC profile, an EXIF orientation other than 1, and any irregularity of the stream (a truncated scan, a marker or
// stray bytes where none belongs), so whatever libjpeg would warn about still reaches sharp and its checks. It also
// leaves to sharp the (never natural) blocks whose numbers leave the range where libjpeg-turbo's SIMD IDCT, which
// works in 16-bit lanes and saturates, agrees with its C code: a dequantised coefficient or a first-pass value of
// 2^14 or more, or an output more than 512 away from the 0..255 range before clamping.
import type { RgbImage } from './pixel-ops.ts';

const ZIGZAG = Int32Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
  55, 62, 63,
]);

/** Thrown inside the decoder for anything it does not take; caught at the top (the caller falls back). */
class NotHandled extends Error {}
function notHandled(why: string): never {
  throw new NotHandled(why);
}

interface Huffman {
  /** 9-bit lookahead: (length << 8) | symbol, 0 = longer code. */
  fast: Uint16Array;
  maxcode: Int32Array; // per length 1..16 (index 17 = sentinel)
  valptr: Int32Array;
  mincode: Int32Array;
  values: Uint8Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const fast = new Uint16Array(512);
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0,
    k = 0;
  for (let len = 1; len <= 16; len++) {
    valptr[len] = k;
    mincode[len] = code;
    const n = counts[len - 1];
    for (let i = 0; i < n; i++) {
      if (len <= 9) {
        const shift = 9 - len;
        const base = code << shift;
        for (let j = 0; j < 1 << shift; j++) fast[base + j] = (len << 8) | values[k];
      }
      code++;
      k++;
    }
    if (code > 1 << len) notHandled('bad Huffman table');
    maxcode[len] = n > 0 ? code - 1 : -1;
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { fast, maxcode, valptr, mincode, values };
}

class BitReader {
  private bits = 0; // number of buffered bits (the low `bits` bits of `buffer`; at most 24)
  private buffer = 0;
  /** Zero bits fed after the data ran out (a marker or the end): using any means the scan was truncated. */
  private fake = 0;
  pos: number;
  private readonly data: Uint8Array;
  constructor(data: Uint8Array, pos: number) {
    this.data = data;
    this.pos = pos;
  }
  private fill(): void {
    while (this.bits <= 16) {
      let byte = 0;
      const d = this.data;
      if (this.fake === 0 && this.pos < d.length && !(d[this.pos] === 0xff && d[this.pos + 1] !== 0x00)) {
        byte = d[this.pos];
        this.pos += byte === 0xff ? 2 : 1; // 0xFF 0x00 is a stuffed 0xFF
      } else this.fake += 8; // at a marker or the end: zeros, as libjpeg inserts
      this.buffer = ((this.buffer << 8) | byte) & 0xffffff;
      this.bits += 8;
    }
  }
  peek9(): number {
    if (this.bits < 9) this.fill();
    return (this.buffer >>> (this.bits - 9)) & 0x1ff;
  }
  skip(n: number): void {
    this.bits -= n;
  }
  bit(): number {
    if (this.bits < 1) this.fill();
    this.bits--;
    return (this.buffer >>> this.bits) & 1;
  }
  receive(n: number): number {
    if (n === 0) return 0;
    if (this.bits < n) this.fill();
    this.bits -= n;
    return (this.buffer >>> this.bits) & ((1 << n) - 1);
  }
  decode(h: Huffman): number {
    const look = h.fast[this.peek9()];
    if (look !== 0) {
      this.skip(look >> 8);
      return look & 0xff;
    }
    let code = 0;
    for (let len = 1; len <= 16; len++) {
      code = (code << 1) | this.bit();
      if (code <= h.maxcode[len]) return h.values[h.valptr[len] + code - h.mincode[len]];
    }
    return notHandled('bad Huffman code');
  }
  /**
   * After the last block: no fed zero may have been used (else the scan was cut short), what is left of the real
   * bytes is the padding of the last one, and a marker follows. Returns the position of that marker's 0xFF.
   */
  finish(): number {
    if (this.bits < this.fake) notHandled('truncated scan');
    const real = this.bits - this.fake;
    if (real >= 8) notHandled('stray bytes after the scan');
    if (this.data[this.pos] !== 0xff) notHandled('stray bytes after the scan');
    return this.pos;
  }
}

const extend = (v: number, n: number) => (v < 1 << (n - 1) ? v - (1 << n) + 1 : v);

// jidctint.c constants (CONST_BITS 13, PASS1_BITS 2)
const F0_298 = 2446,
  F0_390 = 3196,
  F0_541 = 4433,
  F0_765 = 6270,
  F0_899 = 7373,
  F1_175 = 9633,
  F1_501 = 12299,
  F1_847 = 15137,
  F1_961 = 16069,
  F2_053 = 16819,
  F2_562 = 20995,
  F3_072 = 25172;

/** The post-IDCT clamp: value + 128 into [0, 255], for values in [-512, 511] (where libjpeg's C range_limit table and
 * its SIMD saturation agree); indexed by value & 1023. */
const rangeLimit = new Uint8Array(1024);
for (let i = 0; i < 1024; i++) rangeLimit[i] = i < 128 ? i + 128 : i < 512 ? 255 : i < 896 ? 0 : i - 896;
function limited(v: number): number {
  if (v < -512 || v > 511) notHandled('an IDCT output far outside 0..255');
  return rangeLimit[v & 1023];
}

// DESCALE: floor((x + 2^(n-1)) / 2^n), exact in double precision (products can exceed 32 bits; scaling by a power of
// two is exact)
const descale11 = (x: number) => Math.floor((x + 1024) * (1 / 2048));
const descale18 = (x: number) => Math.floor((x + 131072) * (1 / 262144));

const ws = new Int32Array(64);

/**
 * jpeg_idct_islow: dequantised coefficients `c` (natural order) -> 8x8 samples at out[off]. `maxAbs` bounds |c|. The
 * products of large coefficients exceed 32 bits, so sums are descaled with exact double arithmetic unless the inputs
 * of the pass are small enough (|input| < 2^13) for every partial sum to stay below 2^31, where `>>` is the same floor.
 */
function idctIslow(c: Int32Array, maxAbs: number, out: Uint8Array, off: number, stride: number): void {
  if (maxAbs >= 16384) notHandled('a coefficient beyond 14 bits');
  const small = maxAbs < 8192;
  for (let col = 0; col < 8; col++) {
    if (
      c[8 + col] === 0 &&
      c[16 + col] === 0 &&
      c[24 + col] === 0 &&
      c[32 + col] === 0 &&
      c[40 + col] === 0 &&
      c[48 + col] === 0 &&
      c[56 + col] === 0
    ) {
      const dc = c[col] * 4;
      if (dc >= 16384 || dc <= -16384) notHandled('a first-pass value beyond 14 bits');
      for (let r = 0; r < 8; r++) ws[r * 8 + col] = dc;
      continue;
    }
    let z2 = c[16 + col],
      z3 = c[48 + col];
    let z1 = (z2 + z3) * F0_541;
    let tmp2 = z1 - z3 * F1_847;
    let tmp3 = z1 + z2 * F0_765;
    z2 = c[col];
    z3 = c[32 + col];
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3,
      tmp13 = tmp0 - tmp3,
      tmp11 = tmp1 + tmp2,
      tmp12 = tmp1 - tmp2;
    tmp0 = c[56 + col];
    tmp1 = c[40 + col];
    tmp2 = c[24 + col];
    tmp3 = c[8 + col];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F1_175;
    tmp0 *= F0_298;
    tmp1 *= F2_053;
    tmp2 *= F3_072;
    tmp3 *= F1_501;
    z1 *= -F0_899;
    z2 *= -F2_562;
    z3 = z3 * -F1_961 + z5;
    z4 = z4 * -F0_390 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    if (small) {
      ws[col] = (tmp10 + tmp3 + 1024) >> 11;
      ws[56 + col] = (tmp10 - tmp3 + 1024) >> 11;
      ws[8 + col] = (tmp11 + tmp2 + 1024) >> 11;
      ws[48 + col] = (tmp11 - tmp2 + 1024) >> 11;
      ws[16 + col] = (tmp12 + tmp1 + 1024) >> 11;
      ws[40 + col] = (tmp12 - tmp1 + 1024) >> 11;
      ws[24 + col] = (tmp13 + tmp0 + 1024) >> 11;
      ws[32 + col] = (tmp13 - tmp0 + 1024) >> 11;
    } else {
      ws[col] = descale11(tmp10 + tmp3);
      ws[56 + col] = descale11(tmp10 - tmp3);
      ws[8 + col] = descale11(tmp11 + tmp2);
      ws[48 + col] = descale11(tmp11 - tmp2);
      ws[16 + col] = descale11(tmp12 + tmp1);
      ws[40 + col] = descale11(tmp12 - tmp1);
      ws[24 + col] = descale11(tmp13 + tmp0);
      ws[32 + col] = descale11(tmp13 - tmp0);
    }
    for (let r = 0; r < 64; r += 8)
      if (ws[r + col] >= 16384 || ws[r + col] <= -16384) notHandled('a first-pass value beyond 14 bits');
  }
  for (let row = 0; row < 8; row++) {
    const w = row * 8;
    const o = off + row * stride;
    const w0 = ws[w],
      w1 = ws[w + 1],
      w2 = ws[w + 2],
      w3 = ws[w + 3],
      w4 = ws[w + 4],
      w5 = ws[w + 5],
      w6 = ws[w + 6],
      w7 = ws[w + 7];
    if (w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0 && w6 === 0 && w7 === 0) {
      const v = limited((w0 + 16) >> 5);
      for (let i = 0; i < 8; i++) out[o + i] = v;
      continue;
    }
    const rowSmall =
      w0 < 8192 &&
      w0 > -8192 &&
      w1 < 8192 &&
      w1 > -8192 &&
      w2 < 8192 &&
      w2 > -8192 &&
      w3 < 8192 &&
      w3 > -8192 &&
      w4 < 8192 &&
      w4 > -8192 &&
      w5 < 8192 &&
      w5 > -8192 &&
      w6 < 8192 &&
      w6 > -8192 &&
      w7 < 8192 &&
      w7 > -8192;
    let z1 = (w2 + w6) * F0_541;
    let tmp2 = z1 - w6 * F1_847;
    let tmp3 = z1 + w2 * F0_765;
    let tmp0 = (w0 + w4) * 8192;
    let tmp1 = (w0 - w4) * 8192;
    const tmp10 = tmp0 + tmp3,
      tmp13 = tmp0 - tmp3,
      tmp11 = tmp1 + tmp2,
      tmp12 = tmp1 - tmp2;
    z1 = w7 + w1;
    let z2 = w5 + w3;
    let z3 = w7 + w3;
    let z4 = w5 + w1;
    const z5 = (z3 + z4) * F1_175;
    tmp0 = w7 * F0_298;
    tmp1 = w5 * F2_053;
    tmp2 = w3 * F3_072;
    tmp3 = w1 * F1_501;
    z1 *= -F0_899;
    z2 *= -F2_562;
    z3 = z3 * -F1_961 + z5;
    z4 = z4 * -F0_390 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    if (rowSmall) {
      out[o] = limited((tmp10 + tmp3 + 131072) >> 18);
      out[o + 7] = limited((tmp10 - tmp3 + 131072) >> 18);
      out[o + 1] = limited((tmp11 + tmp2 + 131072) >> 18);
      out[o + 6] = limited((tmp11 - tmp2 + 131072) >> 18);
      out[o + 2] = limited((tmp12 + tmp1 + 131072) >> 18);
      out[o + 5] = limited((tmp12 - tmp1 + 131072) >> 18);
      out[o + 3] = limited((tmp13 + tmp0 + 131072) >> 18);
      out[o + 4] = limited((tmp13 - tmp0 + 131072) >> 18);
    } else {
      out[o] = limited(descale18(tmp10 + tmp3));
      out[o + 7] = limited(descale18(tmp10 - tmp3));
      out[o + 1] = limited(descale18(tmp11 + tmp2));
      out[o + 6] = limited(descale18(tmp11 - tmp2));
      out[o + 2] = limited(descale18(tmp12 + tmp1));
      out[o + 5] = limited(descale18(tmp12 - tmp1));
      out[o + 3] = limited(descale18(tmp13 + tmp0));
      out[o + 4] = limited(descale18(tmp13 - tmp0));
    }
  }
}

// jdcolor.c build_ycc_rgb_table (SCALEBITS 16)
const crR = new Int32Array(256),
  cbB = new Int32Array(256),
  crG = new Int32Array(256),
  cbG = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  crR[i] = Math.floor((91881 * x + 32768) / 65536); // FIX(1.40200) = 91881
  cbB[i] = Math.floor((116130 * x + 32768) / 65536); // FIX(1.77200) = 116130
  crG[i] = -46802 * x; // FIX(0.71414)
  cbG[i] = -22554 * x + 32768; // FIX(0.34414), + ONE_HALF
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  td?: number;
  ta?: number;
  blocksW: number;
  blocksH: number;
  plane?: Uint8Array;
  stride: number;
}

function app1Orientation(data: Uint8Array, start: number, end: number): number {
  // "Exif\0\0" then a TIFF header; IFD0 tag 0x0112 (orientation)
  if (end - start < 14) return 1;
  if (
    String.fromCharCode(...data.subarray(start, start + 4)) !== 'Exif' ||
    data[start + 4] !== 0 ||
    data[start + 5] !== 0
  )
    return 1; // XMP or other APP1: no orientation
  const t = start + 6;
  const little = data[t] === 0x49 && data[t + 1] === 0x49;
  if (!little && !(data[t] === 0x4d && data[t + 1] === 0x4d)) notHandled('bad EXIF header');
  const u16 = (p: number) =>
    p + 2 > end ? notHandled('short EXIF') : little ? data[p] | (data[p + 1] << 8) : (data[p] << 8) | data[p + 1];
  const u32 = (p: number) => (u16(little ? p + 2 : p) * 65536 + u16(little ? p : p + 2)) >>> 0;
  const ifd = t + u32(t + 4);
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (u16(e) === 0x0112) return u16(e + 8);
  }
  return 1;
}

function decode(data: Uint8Array, maxPixels: number): RgbImage {
  if (data[0] !== 0xff || data[1] !== 0xd8) notHandled('not a JPEG');
  const quant: Array<Int32Array | undefined> = [];
  const dcTables: Array<Huffman | undefined> = [];
  const acTables: Array<Huffman | undefined> = [];
  let frame: { width: number; height: number; comps: Component[]; hmax: number; vmax: number } | undefined;
  let jfif = false;
  let p = 2;
  for (;;) {
    if (data[p] !== 0xff) notHandled('stray bytes between markers');
    while (data[p] === 0xff) p++;
    const marker = data[p++];
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) notHandled('unexpected marker');
    if (marker === 0xd9) notHandled('no scan');
    if (p + 2 > data.length) notHandled('truncated header');
    const len = (data[p] << 8) | data[p + 1];
    const s = p + 2,
      e = p + len;
    if (len < 2 || e > data.length) notHandled('truncated segment');
    switch (marker) {
      case 0xdb: {
        let q = s;
        while (q < e) {
          const pq = data[q] >> 4,
            tq = data[q] & 15;
          if (tq > 3 || pq > 1) notHandled('bad DQT');
          const table = new Int32Array(64);
          for (let i = 0; i < 64; i++)
            table[ZIGZAG[i]] = pq ? (data[q + 1 + 2 * i] << 8) | data[q + 2 + 2 * i] : data[q + 1 + i];
          quant[tq] = table;
          q += 1 + (pq ? 128 : 64);
        }
        if (q !== e) notHandled('bad DQT length');
        break;
      }
      case 0xc4: {
        let q = s;
        while (q < e) {
          const tc = data[q] >> 4,
            th = data[q] & 15;
          if (tc > 1 || th > 3) notHandled('bad DHT');
          const counts = data.subarray(q + 1, q + 17);
          const total = counts.reduce((a, b) => a + b, 0);
          const values = data.subarray(q + 17, q + 17 + total);
          if (q + 17 + total > e) notHandled('bad DHT length');
          (tc === 0 ? dcTables : acTables)[th] = buildHuffman(counts, values);
          q += 17 + total;
        }
        break;
      }
      case 0xc0:
      case 0xc1: {
        if (frame) notHandled('two frames');
        if (data[s] !== 8) notHandled('not 8-bit');
        const height = (data[s + 1] << 8) | data[s + 2],
          width = (data[s + 3] << 8) | data[s + 4],
          nc = data[s + 5];
        if (width <= 4 || height === 0 || width * height > maxPixels) notHandled('size');
        if (nc !== 1 && nc !== 3) notHandled('component count');
        if (len !== 8 + 3 * nc) notHandled('bad SOF length');
        const comps: Component[] = [];
        for (let i = 0; i < nc; i++) {
          const b = s + 6 + 3 * i;
          comps.push({
            id: data[b],
            h: data[b + 1] >> 4,
            v: data[b + 1] & 15,
            tq: data[b + 2],
            blocksW: 0,
            blocksH: 0,
            stride: 0,
          });
        }
        const hmax = Math.max(...comps.map((c) => c.h)),
          vmax = Math.max(...comps.map((c) => c.v));
        if (nc === 1) {
          comps[0].h = comps[0].v = 1; // a single component is never subsampled (its factors do not matter)
        } else {
          const [y, cb, cr] = comps;
          const sampling = `${y.h}${y.v}${cb.h}${cb.v}${cr.h}${cr.v}`;
          if (sampling !== '111111' && sampling !== '221111') notHandled(`sampling ${sampling}`);
        }
        const mcuW = nc === 1 ? 8 : 8 * hmax,
          mcuH = nc === 1 ? 8 : 8 * vmax;
        const mcusX = Math.ceil(width / mcuW),
          mcusY = Math.ceil(height / mcuH);
        for (const c of comps) {
          c.blocksW = mcusX * c.h;
          c.blocksH = mcusY * c.v;
          c.stride = c.blocksW * 8;
          c.plane = new Uint8Array(c.stride * c.blocksH * 8);
        }
        frame = { width, height, comps, hmax: nc === 1 ? 1 : hmax, vmax: nc === 1 ? 1 : vmax };
        if (nc === 3) {
          const ids = comps.map((c) => c.id).join(',');
          if (!jfif && ids === '82,71,66') notHandled('RGB component ids');
        }
        break;
      }
      case 0xda: {
        if (!frame) notHandled('scan before frame');
        const ns = data[s];
        if (ns !== frame.comps.length || len !== 6 + 2 * ns) notHandled('non-interleaved scan');
        for (let i = 0; i < ns; i++) {
          const c = frame.comps.find((x) => x.id === data[s + 1 + 2 * i]);
          if (!c || c !== frame.comps[i]) notHandled('scan component order');
          c.td = data[s + 2 + 2 * i] >> 4;
          c.ta = data[s + 2 + 2 * i] & 15;
        }
        const ss = data[s + 1 + 2 * ns],
          se = data[s + 2 + 2 * ns],
          ahal = data[s + 3 + 2 * ns];
        if (ss !== 0 || se !== 63 || ahal !== 0) notHandled('not a sequential scan');
        const end = decodeScan(
          data,
          e,
          frame.comps,
          frame.width,
          frame.height,
          frame.hmax,
          frame.vmax,
          quant,
          dcTables,
          acTables,
        );
        // after the single scan: only EOI (optionally after other markers such as COM) may follow
        p = end;
        for (;;) {
          while (data[p] === 0xff) p++;
          const m = data[p++];
          if (m === 0xd9) return toRgb(frame);
          if (m === 0xfe || (m >= 0xe0 && m <= 0xef)) {
            const l = (data[p] << 8) | data[p + 1];
            p += l;
            if (data[p] !== 0xff) notHandled('stray bytes after a segment');
            continue;
          }
          return notHandled('a second scan or an unexpected marker');
        }
      }
      case 0xdd:
        if ((data[s] << 8) | data[s + 1]) notHandled('restart interval');
        break;
      case 0xe0:
        if (len >= 7 && String.fromCharCode(...data.subarray(s, s + 5)) === 'JFIF\0') jfif = true;
        break;
      case 0xe1:
        if (app1Orientation(data, s, e) !== 1) notHandled('EXIF orientation');
        break;
      case 0xe2:
        if (len >= 14 && String.fromCharCode(...data.subarray(s, s + 12)) === 'ICC_PROFILE\0')
          notHandled('ICC profile');
        break;
      case 0xee:
        if (len >= 7 && String.fromCharCode(...data.subarray(s, s + 5)) === 'Adobe') notHandled('Adobe marker');
        break;
      default:
        if ((marker >= 0xc2 && marker <= 0xcf) || marker === 0xdc || marker === 0xde || marker === 0xdf)
          notHandled(`marker 0x${marker.toString(16)}`);
      // other APPn and COM: skipped
    }
    p = e;
  }
}

function decodeScan(
  data: Uint8Array,
  start: number,
  comps: Component[],
  width: number,
  height: number,
  hmax: number,
  vmax: number,
  quant: Array<Int32Array | undefined>,
  dcTables: Array<Huffman | undefined>,
  acTables: Array<Huffman | undefined>,
): number {
  const reader = new BitReader(data, start);
  const q = comps.map((c) => quant[c.tq] ?? notHandled('missing quantisation table'));
  const dc = comps.map((c) => dcTables[c.td!] ?? notHandled('missing DC table'));
  const ac = comps.map((c) => acTables[c.ta!] ?? notHandled('missing AC table'));
  const pred = new Int32Array(comps.length);
  const coef = new Int32Array(64);
  const mcusX = Math.ceil(width / (8 * hmax)),
    mcusY = Math.ceil(height / (8 * vmax));
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      for (let ci = 0; ci < comps.length; ci++) {
        const c = comps[ci];
        const qt = q[ci],
          dct = dc[ci],
          act = ac[ci];
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            coef.fill(0);
            const t = reader.decode(dct);
            if (t > 11) notHandled('bad DC size');
            pred[ci] += t === 0 ? 0 : extend(reader.receive(t), t);
            coef[0] = pred[ci] * qt[0];
            let maxAbs = coef[0] < 0 ? -coef[0] : coef[0];
            for (let k = 1; k < 64; ) {
              const rs = reader.decode(act);
              const r = rs >> 4,
                sz = rs & 15;
              if (sz === 0) {
                if (r !== 15) break;
                k += 16;
                continue;
              }
              k += r;
              if (k > 63) notHandled('coefficient index past 63');
              const z = ZIGZAG[k];
              const v = extend(reader.receive(sz), sz) * qt[z];
              coef[z] = v;
              if (v > maxAbs) maxAbs = v;
              else if (-v > maxAbs) maxAbs = -v;
              k++;
            }
            const row = (my * c.v + by) * 8,
              col = (mx * c.h + bx) * 8;
            idctIslow(coef, maxAbs, c.plane!, row * c.stride + col, c.stride);
          }
        }
      }
    }
  }
  return reader.finish();
}

function toRgb(frame: { width: number; height: number; comps: Component[]; hmax: number; vmax: number }): RgbImage {
  const { width, height, comps } = frame;
  const out = new Uint8Array(width * height * 3);
  const yp = comps[0].plane!,
    ys = comps[0].stride;
  if (comps.length === 1) {
    for (let r = 0, o = 0; r < height; r++)
      for (let x = 0, i = r * ys; x < width; x++, i++, o += 3) out[o] = out[o + 1] = out[o + 2] = yp[i];
    return { data: out, width, height };
  }
  const cbp = comps[1].plane!,
    crp = comps[2].plane!,
    cs = comps[1].stride;
  if (frame.hmax === 1) {
    for (let r = 0, o = 0; r < height; r++)
      for (let x = 0, i = r * ys; x < width; x++, i++, o += 3) yccToRgb(out, o, yp[i], cbp[i], crp[i]);
    return { data: out, width, height };
  }
  // 4:2:0, libjpeg's h2v2 fancy upsampling: the chroma sample nearest in both directions weighs 9, the two that are
  // nearest in one direction 3 each, the diagonal 1 (/16), rows and columns past the image edge repeat the last one
  const dsW = Math.ceil(width / 2),
    dsH = Math.ceil(height / 2);
  const cb = new Uint8Array(width + 1),
    cr = new Uint8Array(width + 1);
  const colsumCb = new Int32Array(dsW),
    colsumCr = new Int32Array(dsW);
  for (let r = 0, o = 0; r < height; r++) {
    const inrow = r >> 1;
    const other = r & 1 ? Math.min(inrow + 1, dsH - 1) : Math.max(inrow - 1, 0);
    const a = inrow * cs,
      b = other * cs;
    for (let i = 0; i < dsW; i++) {
      colsumCb[i] = cbp[a + i] * 3 + cbp[b + i];
      colsumCr[i] = crp[a + i] * 3 + crp[b + i];
    }
    upsampleRow(colsumCb, dsW, cb);
    upsampleRow(colsumCr, dsW, cr);
    for (let x = 0, i = r * ys; x < width; x++, i++, o += 3) yccToRgb(out, o, yp[i], cb[x], cr[x]);
  }
  return { data: out, width, height };
}

/** h2v2_fancy_upsample's horizontal step over column sums (first and last columns as libjpeg special-cases them). */
function upsampleRow(colsum: Int32Array, n: number, out: Uint8Array): void {
  let prev = colsum[0];
  for (let i = 0; i < n; i++) {
    const cur = colsum[i];
    const next = i === n - 1 ? cur : colsum[i + 1];
    out[2 * i] = (cur * 3 + prev + 8) >> 4;
    out[2 * i + 1] = (cur * 3 + next + 7) >> 4; // out has room for the column past an odd width
    prev = cur;
  }
}

/** Clamp to [0, 255] for y + chroma offsets in [-256, 511] (index + 256), as libjpeg's range_limit table does. */
const clampTable = new Uint8Array(768);
for (let i = 0; i < 768; i++) clampTable[i] = i < 256 ? 0 : i > 511 ? 255 : i - 256;

/** jdcolor.c's ycc_rgb_convert for one pixel (|cbG + crG| < 2^24: `>> 16` is its floor). */
function yccToRgb(out: Uint8Array, o: number, y: number, cb: number, cr: number): void {
  out[o] = clampTable[y + crR[cr] + 256];
  out[o + 1] = clampTable[y + ((cbG[cb] + crG[cr]) >> 16) + 256];
  out[o + 2] = clampTable[y + cbB[cb] + 256];
}

/**
 * Decode `bytes` when it is a baseline JPEG this decoder reproduces exactly (see the top of this file) with at most
 * `maxPixels` pixels; undefined otherwise (decode it with the general decoder).
 */
export function decodeBaselineJpeg(bytes: Uint8Array, maxPixels: number): RgbImage | undefined {
  try {
    return decode(bytes, maxPixels);
  } catch (e) {
    if (e instanceof NotHandled) return undefined;
    throw e;
  }
}
