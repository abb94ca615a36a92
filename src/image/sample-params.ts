// Parameter sampling for view specs, exactly torchvision 0.14's algorithms (with clip-bench's seeded Rng in
// place of torch's generator): RandomResizedCrop.get_params (10 attempts, then the centre-crop fallback),
// ColorJitter.get_params (random order of the four adjustments, then the factor draws), RandomApply /
// RandomGrayscale / RandomHorizontalFlip coin flips and MoCo's GaussianBlur sigma ~ U[sigmaMin, sigmaMax].
// planView turns a spec + the image size into concrete steps; no pixels are touched here.
import type { Triple, ViewSpec } from './view-spec.ts';

/** The draws planView needs; Rng satisfies it, tests substitute a replay of torch's draws. */
export interface UniformSource {
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform float in [0, 1). */
  random(): number;
}

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export type PlanStep =
  /**
   * Crop `box` (zero fill outside the image), then bilinear resize to outWidth x outHeight (identity sizes skip it).
   */
  | { kind: 'resizedCrop'; box: CropBox; outWidth: number; outHeight: number }
  /** Crop `box`; parts outside the image are zero (torchvision pads CenterCrop with 0). */
  | { kind: 'crop'; box: CropBox }
  | { kind: 'flip' }
  | { kind: 'brightness' | 'contrast' | 'saturation' | 'hue'; factor: number }
  | { kind: 'grayscale' }
  | { kind: 'blur'; sigma: number }
  | { kind: 'normalize'; mean: Triple; std: Triple };

/** Python's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision RandomResizedCrop.get_params on a width x height image. */
export function randomResizedCropBox(
  width: number,
  height: number,
  scale: [number, number],
  ratio: [number, number],
  rng: UniformSource,
): CropBox {
  const area = height * width;
  // torch.log(torch.tensor(ratio)) is float32
  const logLo = Math.fround(Math.log(Math.fround(ratio[0])));
  const logHi = Math.fround(Math.log(Math.fround(ratio[1])));
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspectRatio = Math.fround(Math.exp(rng.uniform(logLo, logHi)));
    const w = roundHalfEven(Math.sqrt(targetArea * aspectRatio));
    const h = roundHalfEven(Math.sqrt(targetArea / aspectRatio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  // Fallback to central crop
  const inRatio = width / height;
  const minRatio = Math.min(ratio[0], ratio[1]);
  const maxRatio = Math.max(ratio[0], ratio[1]);
  let w: number, h: number;
  if (inRatio < minRatio) {
    w = width;
    h = roundHalfEven(w / minRatio);
  } else if (inRatio > maxRatio) {
    h = height;
    w = roundHalfEven(h * maxRatio);
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** torchvision F.center_crop's box (negative offsets = zero padding) for a width x height image. */
export function centerCropBox(width: number, height: number, size: number): CropBox {
  let padLeft = 0,
    padTop = 0,
    w = width,
    h = height;
  if (size > width || size > height) {
    if (size > width) {
      padLeft = Math.floor((size - width) / 2);
      w = size;
    }
    if (size > height) {
      padTop = Math.floor((size - height) / 2);
      h = size;
    }
  }
  const top = roundHalfEven((h - size) / 2) - padTop;
  const left = roundHalfEven((w - size) / 2) - padLeft;
  return { top, left, height: size, width: size };
}

/** torchvision Resize(size: int): shorter side -> size, longer side int(size * long / short). */
export function resizeShorterSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** ColorJitter.get_params: a random order of [brightness, contrast, saturation, hue], a factor for each enabled one. */
export function colorJitterSteps(
  o: { brightness: number; contrast: number; saturation: number; hue: number },
  rng: UniformSource,
): PlanStep[] {
  const order = [0, 1, 2, 3];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const range = (v: number): [number, number] | undefined => (v > 0 ? [Math.max(0, 1 - v), 1 + v] : undefined);
  const b = range(o.brightness),
    c = range(o.contrast),
    s = range(o.saturation);
  const factors = [
    b && rng.uniform(b[0], b[1]),
    c && rng.uniform(c[0], c[1]),
    s && rng.uniform(s[0], s[1]),
    o.hue > 0 ? rng.uniform(-o.hue, o.hue) : undefined,
  ];
  const kinds = ['brightness', 'contrast', 'saturation', 'hue'] as const;
  const steps: PlanStep[] = [];
  for (const id of order) {
    const factor = factors[id];
    if (factor !== undefined) steps.push({ kind: kinds[id], factor });
  }
  return steps;
}

/** RandomApply's test (`if p < rand: skip`), with p = 0 never applying. */
const applies = (u: number, p: number) => p > 0 && u <= p;

/** Draw every random parameter of `spec` for an image of width x height, in op order. */
export function planView(spec: ViewSpec, width: number, height: number, rng: UniformSource): PlanStep[] {
  const steps: PlanStep[] = [];
  let w = width,
    h = height;
  for (const op of spec.ops) {
    switch (op.op) {
      case 'randomResizedCrop': {
        const box = randomResizedCropBox(w, h, op.scale, op.ratio, rng);
        steps.push({ kind: 'resizedCrop', box, outWidth: op.size, outHeight: op.size });
        w = h = op.size;
        break;
      }
      case 'resizeShorter': {
        const out = resizeShorterSize(w, h, op.size);
        steps.push({
          kind: 'resizedCrop',
          box: { top: 0, left: 0, width: w, height: h },
          outWidth: out.width,
          outHeight: out.height,
        });
        w = out.width;
        h = out.height;
        break;
      }
      case 'centerCrop':
        steps.push({ kind: 'crop', box: centerCropBox(w, h, op.size) });
        w = h = op.size;
        break;
      case 'horizontalFlip':
        if (rng.random() < op.p) steps.push({ kind: 'flip' });
        break;
      case 'colorJitter':
        // RandomApply: torchvision skips when p < rand, i.e. applies when rand <= p
        if (applies(rng.random(), op.p)) steps.push(...colorJitterSteps(op, rng));
        break;
      case 'grayscale':
        if (rng.random() < op.p) steps.push({ kind: 'grayscale' });
        break;
      case 'gaussianBlur':
        if (applies(rng.random(), op.p)) steps.push({ kind: 'blur', sigma: rng.uniform(op.sigmaMin, op.sigmaMax) });
        break;
      case 'normalize':
        steps.push({ kind: 'normalize', mean: op.mean, std: op.std });
        break;
    }
  }
  return steps;
}
