// WebAssembly kernels for the hot pixel ops of src/image/pixel-ops.ts and resample.ts: the same arithmetic as
// Pillow 9.4's C code (Resample.c, BoxBlur.c, Convert.c rgb2hsv/hsv2rgb, Blend.c) so their output is identical
// to the TypeScript reference implementation, which test/image/wasm.test.ts checks on random images.
// Images are 8-bit RGB, HWC, in the module's linear memory; the caller (wasm-pixel-ops.ts) owns the layout.
// Build (clang + lld from Debian): see BUILD below; the .wasm next to this file is committed, CI does not build it.
// BUILD: clang --target=wasm32 -O3 -msimd128 -mbulk-memory -mnontrapping-fptoint -nostdlib -Wl,--no-entry -Wl,--export-dynamic -Wl,--import-memory
//        -Wl,--export=__heap_base
//        -o src/image/pixel-kernels.wasm src/image/pixel-kernels.c
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))
#define PRECISION_BITS (32 - 8 - 2)
#define MAX_COEFFS (1 << 20)
#define MAX_SIZE 16384

static int32_t kk_h[MAX_COEFFS], kk_v[MAX_COEFFS];
static int32_t bounds_h[2 * MAX_SIZE], bounds_v[2 * MAX_SIZE];
#define MAX_KSIZE 4096
static double kd[MAX_KSIZE];

static inline uint8_t clip8(int32_t in) {
  if (in >= (1 << PRECISION_BITS << 8)) return 255;
  if (in <= 0) return 0;
  return (uint8_t)(in >> PRECISION_BITS);
}

// precompute_coeffs + normalize_coeffs_8bpc (bilinear, support 1); returns ksize or -1 when out of room.
static int precompute_coeffs(int inSize, int outSize, int32_t *bounds, int32_t *kk) {
  double scale = (double)inSize / outSize;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * filterscale;
  int ksize = (int)__builtin_ceil(support) * 2 + 1;
  if (outSize > MAX_SIZE || ksize > MAX_KSIZE || (int64_t)ksize * outSize > MAX_COEFFS) return -1;
  double ss = 1.0 / filterscale;
  for (int xx = 0; xx < outSize; xx++) {
    double center = (xx + 0.5) * scale;
    double ww = 0.0;
    int xmin = (int)(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = (int)(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    double *k = kd;
    for (int x = 0; x < xmax; x++) {
      double t = (x + xmin - center + 0.5) * ss;
      if (t < 0.0) t = -t;
      double w = t < 1.0 ? 1.0 - t : 0.0;
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < ksize; x++) {
      double c = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
      kk[xx * ksize + x] = c < 0 ? (int32_t)(-0.5 + c * (1 << PRECISION_BITS)) : (int32_t)(0.5 + c * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return ksize;
}

// Image.resize((outW, outH), BILINEAR) of a whole w x h image; tmp holds outW * h * 3 bytes. 0 ok, -1 too large.
EXPORT int resize_bilinear(const uint8_t *src, int w, int h, uint8_t *dst, int outW, int outH, uint8_t *tmp) {
  int ksh = precompute_coeffs(w, outW, bounds_h, kk_h);
  int ksv = precompute_coeffs(h, outH, bounds_v, kk_v);
  if (ksh < 0 || ksv < 0) return -1;
  int yFirst = 0;
  const uint8_t *in = src;
  int inW = w;
  if (outW != w) {
    yFirst = bounds_v[0];
    int yLast = bounds_v[outH * 2 - 2] + bounds_v[outH * 2 - 1];
    for (int yy = 0; yy < yLast - yFirst; yy++) {
      const uint8_t *row = src + (yy + yFirst) * w * 3;
      uint8_t *o = tmp + yy * outW * 3;
      for (int xx = 0; xx < outW; xx++) {
        int xmin = bounds_h[xx * 2], xmax = bounds_h[xx * 2 + 1];
        const int32_t *k = &kk_h[xx * ksh];
        int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
        const uint8_t *p = row + xmin * 3;
        for (int x = 0; x < xmax; x++, p += 3) { s0 += p[0] * k[x]; s1 += p[1] * k[x]; s2 += p[2] * k[x]; }
        o[xx * 3] = clip8(s0); o[xx * 3 + 1] = clip8(s1); o[xx * 3 + 2] = clip8(s2);
      }
    }
    in = tmp;
    inW = outW;
  }
  int rowLen = inW * 3;
  if (outH == h) {
    if (in != dst) for (int i = 0; i < rowLen * outH; i++) dst[i] = in[i];
    return 0;
  }
  static int32_t acc[MAX_SIZE * 3];
  for (int yy = 0; yy < outH; yy++) {
    int ymin = bounds_v[yy * 2] - yFirst, ymax = bounds_v[yy * 2 + 1];
    const int32_t *k = &kk_v[yy * ksv];
    for (int i = 0; i < rowLen; i++) acc[i] = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < ymax; y++) {
      const uint8_t *row = in + (ymin + y) * rowLen;
      int32_t c = k[y];
      for (int i = 0; i < rowLen; i++) acc[i] += row[i] * c;
    }
    uint8_t *o = dst + yy * rowLen;
    for (int i = 0; i < rowLen; i++) o[i] = clip8(acc[i]);
  }
  return 0;
}

// out[i] = lut[in[i]] (brightness and contrast blends), in place.
EXPORT void map_lut(uint8_t *img, int n, const uint8_t *lut) {
  for (int i = 0; i < n; i++) img[i] = lut[img[i]];
}

static inline uint32_t luma(uint32_t r, uint32_t g, uint32_t b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

// Sum of Pillow's L over npix pixels (for ImageEnhance.Contrast's mean).
EXPORT double luma_sum(const uint8_t *img, int npix) {
  uint64_t sum = 0;
  for (int i = 0; i < npix; i++) sum += luma(img[i * 3], img[i * 3 + 1], img[i * 3 + 2]);
  return (double)sum;
}

// ImageEnhance.Color: blend(L as RGB, img, alpha), in place.
EXPORT void saturation(uint8_t *img, int npix, float alpha) {
  float prod[511];
  for (int d = -255; d <= 255; d++) prod[d + 255] = alpha * (float)d;
#pragma clang loop vectorize(disable) interleave(disable)
  for (int i = 0; i < npix; i++) {
    uint8_t *p = img + i * 3;
    int l = (int)luma(p[0], p[1], p[2]);
    for (int c = 0; c < 3; c++) {
      float t = (float)l + prod[p[c] - l + 255];
      p[c] = t <= 0.0f ? 0 : t >= 255.0f ? 255 : (uint8_t)t;
    }
  }
}

// F.rgb_to_grayscale(img, 3), in place.
EXPORT void grayscale(uint8_t *img, int npix) {
  for (int i = 0; i < npix; i++) {
    uint8_t *p = img + i * 3;
    uint8_t l = (uint8_t)luma(p[0], p[1], p[2]);
    p[0] = l; p[1] = l; p[2] = l;
  }
}

// F.adjust_hue on PIL: rgb2hsv, h += shift (mod 256), hsv2rgb; in place.
static float quotients[256 * 256]; // (float)n / (float)d at [d * 256 + n], the divisions of rgb2hsv
static int quotients_ready = 0;
static float hue_frac[256];   // (float)(h * 6.0 / 255.0 - i) of hsv2rgb
static uint8_t hue_sector[256]; // i = floor(h * 6.0 / 255.0), 0..6
static uint8_t hue_p[256 * 256]; // round(v * (255.0 - s) / 255.0) at [s * 256 + v]
// sector i -> indices into (v, p, q, t) for R, G, B: 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q), 6 = 0
static const uint8_t hue_perm[7][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}, {0, 3, 1}};

// C round() of N / 255 for N = v * (255 - x) >= 0 a dyadic rational (x a float < 256): floor((2N + 255) / 510),
// computed with a multiplication and an exact correction instead of a division.
static inline int round_div255(double n) {
  double m = 2.0 * n + 255.0;
  int k = (int)(m * (1.0 / 510.0));
  if ((double)(k + 1) * 510.0 <= m) k++;
  else if ((double)k * 510.0 > m) k--;
  return k;
}

EXPORT void hue(uint8_t *img, int npix, int shift) {
  if (!quotients_ready) {
    for (int d = 1; d < 256; d++) for (int n = 0; n < 256; n++) quotients[d * 256 + n] = (float)n / (float)d;
    for (int h = 0; h < 256; h++) {
      double hh = (float)h * 6.0 / 255.0;
      int i = (int)__builtin_floor(hh);
      hue_sector[h] = (uint8_t)i;
      hue_frac[h] = (float)(hh - (float)i);
    }
    for (int sat = 0; sat < 256; sat++)
      for (int v = 0; v < 256; v++) hue_p[sat * 256 + v] = (uint8_t)__builtin_floor((float)v * (255.0 - sat) / 255.0 + 0.5);
    quotients_ready = 1;
  }
#pragma clang loop vectorize(disable) interleave(disable)
  for (int i = 0; i < npix; i++) {
    uint8_t *px = img + i * 3;
    int r = px[0], g = px[1], b = px[2];
    int maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
    int minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
    int v = maxc;
    if (maxc == minc) continue; // s = 0: unchanged gray
    int cr = maxc - minc;
    const float *qt = quotients + cr * 256;
    float sf = quotients[maxc * 256 + cr];
    float rc = qt[maxc - r], gc = qt[maxc - g], bc = qt[maxc - b];
    // all three hue candidates, then selects (branch-free: which channel is the max varies pixel to pixel)
    float h_r = bc - gc, h_g = (float)(2.0 + rc - bc), h_b = (float)(4.0 + gc - rc);
    float hf = r == maxc ? h_r : (g == maxc ? h_g : h_b);
    double x = hf / 6.0 + 1.0;
    hf = (float)(x >= 1.0 ? x - 1.0 : x); // fmod(x, 1.0), x in (0, 2)
    int uh = (int)(hf * 255.0); if (uh > 255) uh = 255;
    int s = (int)(sf * 255.0); if (s > 255) s = 255;
    int h = (uh + shift) & 255;
    if (s == 0) { px[0] = px[1] = px[2] = (uint8_t)v; continue; }
    int k = hue_sector[h];
    float fs = hue_frac[h] * s;
    uint8_t vals[4];
    vals[0] = (uint8_t)v;
    vals[1] = hue_p[s * 256 + v];
    vals[2] = (uint8_t)round_div255((float)v * (255.0 - fs));
    vals[3] = (uint8_t)round_div255((float)v * (255.0 - s + fs));
    const uint8_t *perm = hue_perm[k]; // hsv2rgb's switch (i % 6) as a table of (R, G, B) picks from (v, p, q, t)
    px[0] = vals[perm[0]]; px[1] = vals[perm[1]]; px[2] = vals[perm[2]];
  }
}

// Horizontal flip of a w x h image into dst.
EXPORT void flip(const uint8_t *src, int w, int h, uint8_t *dst) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++) dst[(y * w + (w - 1 - x)) * 3 + c] = src[(y * w + x) * 3 + c];
}

static void transpose(const uint8_t *src, int w, int h, uint8_t *dst) {
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const uint8_t *s = src + (y * w + x) * 3;
      uint8_t *d = dst + (x * h + y) * 3;
      d[0] = s[0]; d[1] = s[1]; d[2] = s[2];
    }
}

// One ImagingLineBoxBlur pass along the columns of a rows x rowLen byte array, edges clamped.
static void box_columns(const uint8_t *src, uint8_t *dst, int rows, int rowLen, int r, uint32_t ww, uint32_t fw) {
  static uint32_t acc[MAX_SIZE * 3];
  int last = rows - 1;
  for (int i = 0; i < rowLen; i++) acc[i] = 0;
  for (int k = -r; k <= r; k++) {
    const uint8_t *row = src + (k < 0 ? 0 : k > last ? last : k) * rowLen;
    for (int i = 0; i < rowLen; i++) acc[i] += row[i];
  }
  for (int y = 0; y < rows; y++) {
    int yl = y - r - 1, yh = y + r + 1, yv = y - r;
    const uint8_t *lo = src + (yl < 0 ? 0 : yl) * rowLen;
    const uint8_t *hi = src + (yh > last ? last : yh) * rowLen;
    const uint8_t *leaving = src + (yv < 0 ? 0 : yv) * rowLen;
    uint8_t *o = dst + y * rowLen;
    for (int i = 0; i < rowLen; i++) {
      o[i] = (uint8_t)((acc[i] * ww + (uint32_t)(lo[i] + hi[i]) * fw + (1u << 23)) >> 24);
      acc[i] += hi[i] - leaving[i];
    }
  }
}

// ImagingBoxBlur(radius, 3 passes) with precomputed r / ww / fw: img is blurred in place, a and b are scratch of
// the same size. Horizontal passes run as column passes on the transposed image.
EXPORT int box_blur(uint8_t *img, int w, int h, int r, uint32_t ww, uint32_t fw, uint8_t *a, uint8_t *b) {
  if (w > MAX_SIZE || h > MAX_SIZE) return -1;
  transpose(img, w, h, a);
  box_columns(a, b, w, h * 3, r, ww, fw);
  box_columns(b, a, w, h * 3, r, ww, fw);
  box_columns(a, b, w, h * 3, r, ww, fw);
  transpose(b, h, w, a);
  box_columns(a, b, h, w * 3, r, ww, fw);
  box_columns(b, a, h, w * 3, r, ww, fw);
  box_columns(a, img, h, w * 3, r, ww, fw);
  return 0;
}

// ToTensor (+ Normalize) through per-channel tables of 256 float32 values.
EXPORT void to_float(const uint8_t *img, int npix, const float *tables, float *out) {
  for (int i = 0; i < npix; i++) {
    out[i * 3] = tables[img[i * 3]];
    out[i * 3 + 1] = tables[256 + img[i * 3 + 1]];
    out[i * 3 + 2] = tables[512 + img[i * 3 + 2]];
  }
}
