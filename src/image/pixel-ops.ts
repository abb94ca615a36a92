// Pixel operations on 8-bit RGB images (HWC, 3 channels), written to give the same bytes as torchvision 0.14's
// PIL path on Pillow 9.4: ImageEnhance blends (Image.blend in float32, truncated, clipped), contrast around the
// rounded mean of the "L" image (L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16), hue through Pillow's
// RGB<->HSV conversions with numpy's uint8 wrap-around, MoCo's GaussianBlur = Pillow's 3-pass extended box blur,
// and ToTensor/Normalize in float32. Every function returns a new image and leaves its input untouched.
import type { Triple } from './view-spec.ts';

export interface RgbImage {
  data: Uint8Array; // height * width * 3
  width: number;
  height: number;
}

const f32 = Math.fround;

export function rgbImage(width: number, height: number, data?: Uint8Array): RgbImage {
  const d = data ?? new Uint8Array(width * height * 3);
  if (d.length !== width * height * 3)
    throw new Error(`RGB image ${width}x${height} needs ${width * height * 3} bytes, got ${d.length}`);
  return { data: d, width, height };
}

/** Pillow's ImagingBlend(im1, im2, alpha) on one byte: im1 + alpha*(im2 - im1) in float32, truncated, clipped. */
function blendValue(in1: number, in2: number, alpha32: number): number {
  const t = f32(in1 + f32(alpha32 * (in2 - in1)));
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

/** 256-entry table of blend(constant, v, alpha). */
export function blendTable(constant: number, factor: number): Uint8Array {
  const alpha = f32(factor);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = blendValue(constant, v, alpha);
  return lut;
}

function mapTable(img: RgbImage, lut: Uint8Array): RgbImage {
  const src = img.data,
    out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return { data: out, width: img.width, height: img.height };
}

/** Pillow's RGB -> L conversion of one pixel. */
export const luma = (r: number, g: number, b: number) => (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;

/** F.adjust_brightness: ImageEnhance.Brightness = blend(black, img, factor). */
export function adjustBrightness(img: RgbImage, factor: number): RgbImage {
  return mapTable(img, blendTable(0, factor));
}

/** F.adjust_contrast: ImageEnhance.Contrast = blend(mean of L rounded, img, factor). */
export function adjustContrast(img: RgbImage, factor: number): RgbImage {
  const d = img.data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 3) sum += luma(d[i], d[i + 1], d[i + 2]);
  const n = img.width * img.height;
  const mean = n === 0 ? 0 : Math.trunc(sum / n + 0.5);
  return mapTable(img, blendTable(mean, factor));
}

/** F.adjust_saturation: ImageEnhance.Color = blend(L as RGB, img, factor). */
export function adjustSaturation(img: RgbImage, factor: number): RgbImage {
  const alpha = f32(factor);
  // products alpha * d for d in [-255, 255], rounded to float32 like the C expression
  const prod = new Float64Array(511);
  for (let d = -255; d <= 255; d++) prod[d + 255] = f32(alpha * d);
  const src = img.data,
    out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const l = luma(src[i], src[i + 1], src[i + 2]);
    for (let c = 0; c < 3; c++) {
      const t = f32(l + prod[src[i + c] - l + 255]);
      out[i + c] = t <= 0 ? 0 : t >= 255 ? 255 : t; // the Uint8Array store truncates like the C cast
    }
  }
  return { data: out, width: img.width, height: img.height };
}

/**
 * F.adjust_hue (PIL path): RGB -> HSV, H += uint8(factor * 255) with wrap-around, HSV -> RGB, one pixel at a time
 * with Pillow's rgb2hsv_row / hsv2rgb arithmetic (float32 where Pillow uses float, double where it uses double).
 */
export function adjustHue(img: RgbImage, factor: number): RgbImage {
  if (!(factor >= -0.5 && factor <= 0.5)) throw new RangeError(`hue factor ${factor} is not in [-0.5, 0.5]`);
  const shift = ((Math.trunc(factor * 255) % 256) + 256) % 256; // np.uint8(hue_factor * 255)
  const div = quotientTable();
  const src = img.data,
    out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const r = src[i],
      g = src[i + 1],
      b = src[i + 2];
    const maxc = r > g ? (r > b ? r : b) : g > b ? g : b;
    const minc = r < g ? (r < b ? r : b) : g < b ? g : b;
    const v = maxc;
    if (maxc === minc) {
      out[i] = v;
      out[i + 1] = v;
      out[i + 2] = v;
      continue;
    } // s = 0: gray stays gray
    // rgb2hsv
    const cr = maxc - minc,
      row = cr << 8;
    const sf = div[(maxc << 8) + cr]; // float32(cr / maxc)
    const rc = div[row + maxc - r],
      gc = div[row + maxc - g],
      bc = div[row + maxc - b];
    let hf: number;
    if (r === maxc) hf = f32(bc - gc);
    else if (g === maxc) hf = f32(2.0 + rc - bc);
    else hf = f32(4.0 + gc - rc);
    const x = hf / 6.0 + 1.0;
    hf = f32(x >= 1.0 ? x - 1.0 : x); // fmod(x, 1.0) for x in (0, 2)
    // (hf, sf in [0, 1]: `| 0` truncates like the C cast, and is much faster than Math.trunc in V8)
    let uh = (hf * 255.0) | 0;
    uh = uh >= 255 ? 255 : uh;
    let s = (sf * 255.0) | 0;
    s = s >= 255 ? 255 : s;
    const h = (uh + shift) & 255;
    // hsv2rgb
    if (s === 0) {
      out[i] = v;
      out[i + 1] = v;
      out[i + 2] = v;
      continue;
    }
    const hh = (h * 6.0) / 255.0;
    const k = hh | 0; // floor, hh >= 0
    const fs = f32(f32(hh - k) * s);
    // C round() of non-negative values. floor(x + 0.5) is exact here: x = N / 255 with N = v * (255 - fs...) a
    // dyadic rational of <= 32 bits, so x is either exactly a half-integer or at least 2^-24 / 255 away from one.
    // (V8's Math.round is ~4x slower.) The results lie in [0, v], so no clipping is needed.
    const p = Math.floor((v * (255.0 - s)) / 255.0 + 0.5);
    const q = Math.floor((v * (255.0 - fs)) / 255.0 + 0.5);
    const t = Math.floor((v * (255.0 - s + fs)) / 255.0 + 0.5);
    switch (k) {
      case 0:
      case 6:
        out[i] = v;
        out[i + 1] = t;
        out[i + 2] = p;
        break;
      case 1:
        out[i] = q;
        out[i + 1] = v;
        out[i + 2] = p;
        break;
      case 2:
        out[i] = p;
        out[i + 1] = v;
        out[i + 2] = t;
        break;
      case 3:
        out[i] = p;
        out[i + 1] = q;
        out[i + 2] = v;
        break;
      case 4:
        out[i] = t;
        out[i + 1] = p;
        out[i + 2] = v;
        break;
      default:
        out[i] = v;
        out[i + 1] = p;
        out[i + 2] = q;
        break;
    }
  }
  return { data: out, width: img.width, height: img.height };
}

let quotients: Float32Array | undefined;
/** float32(n / d) for d, n in [0, 255] at [d * 256 + n] (the divisions of Pillow's rgb2hsv). */
function quotientTable(): Float32Array {
  if (!quotients) {
    quotients = new Float32Array(256 * 256);
    for (let d = 1; d < 256; d++) for (let n = 0; n < 256; n++) quotients[d * 256 + n] = n / d;
  }
  return quotients;
}

/** F.rgb_to_grayscale(img, 3): Pillow's L conversion replicated to three channels. */
export function grayscale(img: RgbImage): RgbImage {
  const src = img.data,
    out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const l = luma(src[i], src[i + 1], src[i + 2]);
    out[i] = l;
    out[i + 1] = l;
    out[i + 2] = l;
  }
  return { data: out, width: img.width, height: img.height };
}

/** Horizontal flip (PIL FLIP_LEFT_RIGHT). */
export function flipHorizontal(img: RgbImage): RgbImage {
  const { width, height } = img,
    src = img.data,
    out = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3,
        d = row + (width - 1 - x) * 3;
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
    }
  }
  return { data: out, width, height };
}

/** Crop a box; pixels outside the source are 0 (PIL crop / torchvision's zero padding). */
export function crop(img: RgbImage, box: { top: number; left: number; width: number; height: number }): RgbImage {
  const out = new Uint8Array(box.width * box.height * 3);
  const x0 = Math.max(0, box.left),
    x1 = Math.min(img.width, box.left + box.width);
  if (x1 > x0) {
    for (let y = 0; y < box.height; y++) {
      const sy = box.top + y;
      if (sy < 0 || sy >= img.height) continue;
      out.set(
        img.data.subarray((sy * img.width + x0) * 3, (sy * img.width + x1) * 3),
        (y * box.width + (x0 - box.left)) * 3,
      );
    }
  }
  return { data: out, width: box.width, height: box.height };
}

/** The box radius Pillow's ImagingGaussianBlur(radius, passes = 3) uses (float32 arithmetic as in BoxBlur.c). */
export function pilBoxRadius(sigma: number, passes = 3): number {
  const radius = f32(sigma);
  const sigma2 = f32(f32(radius * radius) / passes);
  const L = f32(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = f32(Math.floor((L - 1.0) / 2.0));
  let a = f32(f32(f32(2 * l) + 1) * f32(f32(l * f32(l + 1)) - f32(3 * sigma2)));
  a = f32(a / f32(6 * f32(sigma2 - f32(f32(l + 1) * f32(l + 1)))));
  return f32(l + a);
}

const TWO_POW_M24 = 1 / 16777216;

/**
 * One pass of Pillow's ImagingLineBoxBlur along the columns of a rows x rowLen array of bytes (every column
 * independently, edges clamped), written row by row so the inner loops run over contiguous memory:
 * out[y] = (ww * sum(in[y-r..y+r]) + fw * (in[y-r-1] + in[y+r+1]) + 2^23) >> 24.
 */
function boxBlurColumns(
  src: Uint8Array,
  dst: Uint8Array,
  rows: number,
  rowLen: number,
  r: number,
  ww: number,
  fw: number,
  acc: Int32Array,
): void {
  const last = rows - 1;
  const clampRow = (y: number) => (y < 0 ? 0 : y > last ? last : y) * rowLen;
  acc.fill(0);
  for (let k = -r; k <= r; k++) {
    const o = clampRow(k);
    for (let i = 0; i < rowLen; i++) acc[i] += src[o + i];
  }
  for (let y = 0; y < rows; y++) {
    const lo = clampRow(y - r - 1),
      hi = clampRow(y + r + 1),
      leaving = clampRow(y - r),
      out = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      const a = src[lo + i],
        b = src[hi + i];
      dst[out + i] = ((acc[i] * ww + (a + b) * fw + 8388608) * TWO_POW_M24) | 0; // < 256: `| 0` is the >> 24
      acc[i] += b - src[leaving + i];
    }
  }
}

function transposeRgb(src: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0, s = y * width * 3; x < width; x++, s += 3) {
      const d = (x * height + y) * 3;
      out[d] = src[s];
      out[d + 1] = src[s + 1];
      out[d + 2] = src[s + 2];
    }
  }
  return out;
}

/** ImagingHorizontalBoxBlur's integer radius and 24-bit fixed-point weights for Gaussian sigma. */
export function pilBoxBlurParams(sigma: number): { r: number; ww: number; fw: number } {
  const floatRadius = pilBoxRadius(sigma);
  const r = Math.trunc(floatRadius);
  const ww = Math.trunc(f32(16777216 / f32(f32(floatRadius * 2) + 1)));
  const fw = Math.trunc((16777216 - (r * 2 + 1) * ww) / 2);
  return { r, ww, fw };
}

/**
 * MoCo v2's GaussianBlur: PIL ImageFilter.GaussianBlur(radius=sigma), i.e. Pillow's ImagingBoxBlur with 3 passes:
 * three horizontal box passes, then three vertical ones, each rounding to 8 bits. The horizontal passes run as
 * column passes over the transposed image.
 */
export function gaussianBlur(img: RgbImage, sigma: number): RgbImage {
  const { width, height } = img;
  const { r, ww, fw } = pilBoxBlurParams(sigma);
  const acc = new Int32Array(Math.max(width, height) * 3);
  let a: Uint8Array = transposeRgb(img.data, width, height); // width rows of height pixels
  let b: Uint8Array = new Uint8Array(a.length);
  for (let pass = 0; pass < 3; pass++) {
    boxBlurColumns(a, b, width, height * 3, r, ww, fw, acc);
    [a, b] = [b, a];
  }
  a = transposeRgb(a, height, width);
  for (let pass = 0; pass < 3; pass++) {
    boxBlurColumns(a, b, height, width * 3, r, ww, fw, acc);
    [a, b] = [b, a];
  }
  return { data: a, width, height };
}

/** Per-channel table of ToTensor (+ Normalize) results in float32: (float32(v / 255) - mean) / std. */
export function normalizeTables(mean?: Triple, std?: Triple): Float32Array {
  const t = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = f32(mean ? mean[c] : 0),
      s = f32(std ? std[c] : 1);
    for (let v = 0; v < 256; v++) {
      const x = f32(v / 255);
      t[c * 256 + v] = mean ? f32(f32(x - m) / s) : x;
    }
  }
  return t;
}

/** ToTensor (+ Normalize) of an RGB image into float32 HWC through the tables from normalizeTables. */
export function toFloat(data: Uint8Array, tables: Float32Array, out = new Float32Array(data.length)): Float32Array {
  for (let i = 0; i < data.length; i += 3) {
    out[i] = tables[data[i]];
    out[i + 1] = tables[256 + data[i + 1]];
    out[i + 2] = tables[512 + data[i + 2]];
  }
  return out;
}
