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
  if (d.length !== width * height * 3) throw new Error(`RGB image ${width}x${height} needs ${width * height * 3} bytes, got ${d.length}`);
  return { data: d, width, height };
}

/** Pillow's ImagingBlend(im1, im2, alpha) for one 8-bit value: im1 + alpha * (im2 - im1) in float32, truncated and clipped. */
function blendValue(in1: number, in2: number, alpha32: number): number {
  const t = f32(in1 + f32(alpha32 * (in2 - in1)));
  return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
}

/** 256-entry table of blend(constant, v, alpha). */
function blendTable(constant: number, factor: number): Uint8Array {
  const alpha = f32(factor);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = blendValue(constant, v, alpha);
  return lut;
}

function mapTable(img: RgbImage, lut: Uint8Array): RgbImage {
  const src = img.data, out = new Uint8Array(src.length);
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
  const src = img.data, out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const l = luma(src[i], src[i + 1], src[i + 2]);
    for (let c = 0; c < 3; c++) {
      const t = f32(l + prod[src[i + c] - l + 255]);
      out[i + c] = t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
    }
  }
  return { data: out, width: img.width, height: img.height };
}

/** Pillow's rgb2hsv for one pixel, written into hsv[0..2]. */
function rgbToHsv(r: number, g: number, b: number, hsv: Uint8Array): void {
  const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
  hsv[2] = maxc;
  if (maxc === minc) { hsv[0] = 0; hsv[1] = 0; return; }
  const cr = maxc - minc; // exact as float
  const s = f32(cr / maxc);
  const rc = f32((maxc - r) / cr), gc = f32((maxc - g) / cr), bc = f32((maxc - b) / cr);
  let h: number;
  if (r === maxc) h = f32(bc - gc);
  else if (g === maxc) h = f32(2.0 + rc - bc);
  else h = f32(4.0 + gc - rc);
  h = f32((h / 6.0 + 1.0) % 1.0);
  hsv[0] = clip8(Math.trunc(h * 255.0));
  hsv[1] = clip8(Math.trunc(s * 255.0));
}

const clip8 = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : v);
/** C round(): half away from zero (all arguments here are >= 0). */
const cRound = Math.round;

/** Pillow's hsv2rgb for one pixel, written into out at offset o. */
function hsvToRgb(h: number, s: number, v: number, out: Uint8Array, o: number): void {
  if (s === 0) { out[o] = v; out[o + 1] = v; out[o + 2] = v; return; }
  const i = Math.floor((h * 6.0) / 255.0);
  const f = f32((h * 6.0) / 255.0 - i);
  const fs = f32(f * s);
  const p = clip8(cRound((v * (255.0 - s)) / 255.0));
  const q = clip8(cRound((v * (255.0 - fs)) / 255.0));
  const t = clip8(cRound((v * (255.0 - s + fs)) / 255.0));
  switch (i % 6) {
    case 0: out[o] = v; out[o + 1] = t; out[o + 2] = p; break;
    case 1: out[o] = q; out[o + 1] = v; out[o + 2] = p; break;
    case 2: out[o] = p; out[o + 1] = v; out[o + 2] = t; break;
    case 3: out[o] = p; out[o + 1] = q; out[o + 2] = v; break;
    case 4: out[o] = t; out[o + 1] = p; out[o + 2] = v; break;
    case 5: out[o] = v; out[o + 1] = p; out[o + 2] = q; break;
  }
}

/** F.adjust_hue (PIL path): RGB -> HSV, H += uint8(factor * 255) with wrap-around, HSV -> RGB. */
export function adjustHue(img: RgbImage, factor: number): RgbImage {
  if (!(factor >= -0.5 && factor <= 0.5)) throw new RangeError(`hue factor ${factor} is not in [-0.5, 0.5]`);
  const shift = ((Math.trunc(factor * 255) % 256) + 256) % 256; // np.uint8(hue_factor * 255)
  const src = img.data, out = new Uint8Array(src.length);
  const hsv = new Uint8Array(3);
  for (let i = 0; i < src.length; i += 3) {
    rgbToHsv(src[i], src[i + 1], src[i + 2], hsv);
    hsvToRgb((hsv[0] + shift) & 255, hsv[1], hsv[2], out, i);
  }
  return { data: out, width: img.width, height: img.height };
}

/** F.rgb_to_grayscale(img, 3): Pillow's L conversion replicated to three channels. */
export function grayscale(img: RgbImage): RgbImage {
  const src = img.data, out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    const l = luma(src[i], src[i + 1], src[i + 2]);
    out[i] = l; out[i + 1] = l; out[i + 2] = l;
  }
  return { data: out, width: img.width, height: img.height };
}

/** Horizontal flip (PIL FLIP_LEFT_RIGHT). */
export function flipHorizontal(img: RgbImage): RgbImage {
  const { width, height } = img, src = img.data, out = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3, d = row + (width - 1 - x) * 3;
      out[d] = src[s]; out[d + 1] = src[s + 1]; out[d + 2] = src[s + 2];
    }
  }
  return { data: out, width, height };
}

/** Crop a box; pixels outside the source are 0 (PIL crop / torchvision's zero padding). */
export function crop(img: RgbImage, box: { top: number; left: number; width: number; height: number }): RgbImage {
  const out = new Uint8Array(box.width * box.height * 3);
  const x0 = Math.max(0, box.left), x1 = Math.min(img.width, box.left + box.width);
  if (x1 > x0) {
    for (let y = 0; y < box.height; y++) {
      const sy = box.top + y;
      if (sy < 0 || sy >= img.height) continue;
      out.set(img.data.subarray((sy * img.width + x0) * 3, (sy * img.width + x1) * 3), (y * box.width + (x0 - box.left)) * 3);
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

/**
 * One pass of Pillow's ImagingLineBoxBlur over `n` values at src[offset + k*stride] (clamped edges):
 * out[x] = (ww * sum(in[x-r..x+r]) + fw * (in[x-r-1] + in[x+r+1]) + 2^23) >> 24.
 */
function boxBlurLine(data: Uint8Array, offset: number, stride: number, n: number, r: number, ww: number, fw: number, line: Uint8Array, tmp: Uint8Array): void {
  for (let k = 0; k < n; k++) line[k] = data[offset + k * stride];
  const last = n - 1;
  const at = (k: number) => line[k < 0 ? 0 : k > last ? last : k];
  let acc = 0;
  for (let k = -r; k <= r; k++) acc += at(k);
  for (let x = 0; x < n; x++) {
    const bulk = acc * ww + (at(x - r - 1) + at(x + r + 1)) * fw;
    tmp[x] = Math.floor((bulk + 8388608) / 16777216);
    acc += at(x + r + 1) - at(x - r);
  }
  for (let k = 0; k < n; k++) data[offset + k * stride] = tmp[k];
}

/** MoCo v2's GaussianBlur: PIL ImageFilter.GaussianBlur(radius=sigma), i.e. Pillow's 3-pass extended box blur. */
export function gaussianBlur(img: RgbImage, sigma: number): RgbImage {
  const { width, height } = img;
  const out = new Uint8Array(img.data);
  const floatRadius = pilBoxRadius(sigma);
  const r = Math.trunc(floatRadius);
  const ww = Math.trunc(f32(16777216 / f32(f32(floatRadius * 2) + 1)));
  const fw = Math.trunc((16777216 - (r * 2 + 1) * ww) / 2);
  const maxN = Math.max(width, height);
  const line = new Uint8Array(maxN), tmp = new Uint8Array(maxN);
  for (let pass = 0; pass < 3; pass++)
    for (let y = 0; y < height; y++) for (let c = 0; c < 3; c++) boxBlurLine(out, y * width * 3 + c, 3, width, r, ww, fw, line, tmp);
  for (let pass = 0; pass < 3; pass++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) boxBlurLine(out, x * 3 + c, width * 3, height, r, ww, fw, line, tmp);
  return { data: out, width, height };
}

/** Per-channel table of ToTensor (+ Normalize) results in float32: (float32(v / 255) - mean) / std. */
export function normalizeTables(mean?: Triple, std?: Triple): Float32Array {
  const t = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const m = f32(mean ? mean[c] : 0), s = f32(std ? std[c] : 1);
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
