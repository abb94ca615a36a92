// Bilinear resampling exactly as Pillow 9.4's ImagingResample (libImaging/Resample.c), which torchvision's
// PIL path uses for Resize / RandomResizedCrop: a triangle filter widened by the scale factor when
// shrinking (antialiased), coefficients normalised per output pixel and quantised to 22-bit fixed point,
// a horizontal pass over the rows the vertical pass needs, then a vertical pass, each rounding to 8 bits.
import { crop, type RgbImage } from './pixel-ops.ts';
import type { CropBox } from './sample-params.ts';

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  kk: Int32Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter (support 1) over [in0, in1) of an axis. */
function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number): Coeffs {
  const scale = (in1 - in0) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      let t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      const w = t < 1.0 ? 1.0 - t : 0.0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const c = ww !== 0.0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] =
        c < 0 ? Math.trunc(-0.5 + c * (1 << PRECISION_BITS)) : Math.trunc(0.5 + c * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const clip8 = (v: number) => (v >= (1 << PRECISION_BITS) << 8 ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS);

/** PIL Image.resize((outWidth, outHeight), BILINEAR) of a whole 8-bit RGB image. */
export function resizeBilinear(img: RgbImage, outWidth: number, outHeight: number): RgbImage {
  const { width, height } = img;
  if (outWidth === width && outHeight === height) return { data: new Uint8Array(img.data), width, height };
  const horiz = precomputeCoeffs(width, 0, width, outWidth);
  const vert = precomputeCoeffs(height, 0, height, outHeight);
  let src = img.data;
  let srcWidth = width;
  let yFirst = 0;
  const vBounds = vert.bounds;
  if (outWidth !== width) {
    yFirst = vBounds[0];
    const yLast = vBounds[outHeight * 2 - 2] + vBounds[outHeight * 2 - 1];
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(outWidth * rows * 3);
    const { ksize, bounds, kk } = horiz;
    for (let yy = 0; yy < rows; yy++) {
      const rowIn = (yy + yFirst) * width * 3;
      const rowOut = yy * outWidth * 3;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2],
          xmax = bounds[xx * 2 + 1],
          kOff = xx * ksize;
        let s0 = HALF,
          s1 = HALF,
          s2 = HALF;
        let p = rowIn + xmin * 3;
        for (let x = 0; x < xmax; x++, p += 3) {
          const c = kk[kOff + x];
          s0 += src[p] * c;
          s1 += src[p + 1] * c;
          s2 += src[p + 2] * c;
        }
        const o = rowOut + xx * 3;
        tmp[o] = clip8(s0);
        tmp[o + 1] = clip8(s1);
        tmp[o + 2] = clip8(s2);
      }
    }
    src = tmp;
    srcWidth = outWidth;
  }
  if (outHeight === height) {
    return { data: src === img.data ? new Uint8Array(src) : src, width: outWidth, height: outHeight };
  }
  const out = new Uint8Array(outWidth * outHeight * 3);
  const { ksize, kk } = vert;
  const rowLen = srcWidth * 3;
  const acc = new Int32Array(rowLen); // sums stay below 2^31: |coefficients| sum to about 2^22, pixels <= 255
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = vBounds[yy * 2] - yFirst,
      ymax = vBounds[yy * 2 + 1],
      kOff = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < ymax; y++) {
      const c = kk[kOff + y],
        row = (ymin + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += src[row + i] * c;
    }
    const rowOut = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[rowOut + i] = clip8(acc[i]);
  }
  return { data: out, width: outWidth, height: outHeight };
}

/** torchvision F.resized_crop on PIL: crop `box` (zero outside the image), then bilinear resize. */
export function resizedCrop(img: RgbImage, box: CropBox, outWidth: number, outHeight: number): RgbImage {
  const whole = box.left === 0 && box.top === 0 && box.width === img.width && box.height === img.height;
  return resizeBilinear(whole ? img : crop(img, box), outWidth, outHeight);
}
