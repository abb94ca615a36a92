// Apply a view spec to an image: plan the random parameters (sample-params.ts), then run the steps on bytes
// with the WebAssembly kernels (wasm-pixel-ops.ts) or the TypeScript reference (resample.ts + pixel-ops.ts,
// identical output), ending in float32 HWC. decodeAndApply is the main-thread entry point (evaluation); the
// worker (stages/image/decode-worker.ts) uses decodeImage + applyView so one decode serves every view of a sample.
import type { Rng } from '../rng.ts';
import { deriveRng } from '../rng.ts';
import type { ImageView, ViewSpec } from './view-spec.ts';
import { planView, type PlanStep, type UniformSource } from './sample-params.ts';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  crop,
  flipHorizontal,
  gaussianBlur,
  grayscale,
  normalizeTables,
  toFloat,
  type RgbImage,
} from './pixel-ops.ts';
import { resizedCrop } from './resample.ts';
import { decodeImage, type DecodeOptions } from './decode.ts';
import type { Triple } from './view-spec.ts';
import { executePlanWasm, wasmKernelsAvailable } from './wasm-pixel-ops.ts';

export type PixelKernels = 'wasm' | 'js';
let kernels: PixelKernels | undefined;

/**
 * Which implementation runs the pixel steps: 'wasm' (pixel-kernels.c, the default when it loads) or 'js' (the
 * TypeScript reference). Both give identical bytes. Env override: CLIP_BENCH_IMAGE_KERNELS=js|wasm.
 */
export function pixelKernels(): PixelKernels {
  if (!kernels) {
    const env = process.env.CLIP_BENCH_IMAGE_KERNELS;
    if (env !== undefined && env !== 'js' && env !== 'wasm')
      throw new Error(`CLIP_BENCH_IMAGE_KERNELS must be js or wasm, got ${JSON.stringify(env)}`);
    kernels = env === 'js' ? 'js' : wasmKernelsAvailable() ? 'wasm' : 'js';
    if (env === 'wasm' && kernels !== 'wasm')
      throw new Error('CLIP_BENCH_IMAGE_KERNELS=wasm but the WebAssembly kernels do not load here');
  }
  return kernels;
}

/** Choose the pixel implementation for this thread (tests and benchmarks). */
export function setPixelKernels(choice: PixelKernels): void {
  if (choice === 'wasm' && !wasmKernelsAvailable()) throw new Error('the WebAssembly pixel kernels do not load here');
  kernels = choice;
}

/** Run the planned steps on 8-bit pixels; returns the final bytes and the normalisation to apply. */
export function executePlan(
  img: RgbImage,
  steps: PlanStep[],
): { image: RgbImage; normalize?: { mean: Triple; std: Triple } } {
  let cur = img;
  let normalize: { mean: Triple; std: Triple } | undefined;
  for (const step of steps) {
    switch (step.kind) {
      case 'resizedCrop':
        cur = resizedCrop(cur, step.box, step.outWidth, step.outHeight);
        break;
      case 'crop':
        cur = crop(cur, step.box);
        break;
      case 'flip':
        cur = flipHorizontal(cur);
        break;
      case 'brightness':
        cur = adjustBrightness(cur, step.factor);
        break;
      case 'contrast':
        cur = adjustContrast(cur, step.factor);
        break;
      case 'saturation':
        cur = adjustSaturation(cur, step.factor);
        break;
      case 'hue':
        cur = adjustHue(cur, step.factor);
        break;
      case 'grayscale':
        cur = grayscale(cur);
        break;
      case 'blur':
        cur = gaussianBlur(cur, step.sigma);
        break;
      case 'normalize':
        normalize = { mean: step.mean, std: step.std };
        break;
    }
  }
  return { image: cur, normalize };
}

const tableCache = new Map<string, Float32Array>();
/** ToTensor (+ Normalize) tables, cached per (mean, std). */
export function tablesFor(normalize?: { mean: Triple; std: Triple }): Float32Array {
  const key = normalize ? `${normalize.mean.join(',')}|${normalize.std.join(',')}` : 'none';
  let t = tableCache.get(key);
  if (!t) {
    t = normalizeTables(normalize?.mean, normalize?.std);
    tableCache.set(key, t);
  }
  return t;
}

/** The 8-bit result of one view plus what is left to do to make it float (so that step can run elsewhere). */
export interface ByteView {
  data: Uint8Array;
  height: number;
  width: number;
  normalize?: { mean: Triple; std: Triple };
}

/**
 * Run planned steps with the WebAssembly kernels, or undefined when they are off or the image is too large for them.
 */
function tryWasm(img: RgbImage, steps: PlanStep[], float: boolean) {
  if (pixelKernels() !== 'wasm') return undefined;
  try {
    return executePlanWasm(img, steps, float ? tablesFor : undefined);
  } catch (err) {
    if (err instanceof Error && /too large for the wasm kernels/.test(err.message)) return undefined;
    throw err;
  }
}

/** Apply `spec` to a decoded image with the draws of `rng`, stopping before the float conversion. */
export function applyViewBytes(img: RgbImage, spec: ViewSpec, rng: UniformSource): ByteView {
  const steps = planView(spec, img.width, img.height, rng);
  const w = tryWasm(img, steps, false);
  if (w) return { data: w.bytes!, height: w.height, width: w.width, normalize: w.normalize };
  const { image, normalize } = executePlan(img, steps);
  return { data: image.data, height: image.height, width: image.width, normalize };
}

/** Apply `spec` with the draws of `rng` all the way to float32 HWC (ToTensor + Normalize). */
export function applyView(img: RgbImage, spec: ViewSpec, rng: UniformSource): ImageView {
  const steps = planView(spec, img.width, img.height, rng);
  const w = tryWasm(img, steps, true);
  if (w) return { data: w.floats!, height: w.height, width: w.width };
  const { image, normalize } = executePlan(img, steps);
  return { data: toFloat(image.data, tablesFor(normalize)), height: image.height, width: image.width };
}

/** ToTensor + Normalize of a byte view into float32 HWC. */
export function byteViewToFloat(view: ByteView): ImageView {
  return { data: toFloat(view.data, tablesFor(view.normalize)), height: view.height, width: view.width };
}

/** The generator of view `viewIndex` of sample `key` in `epoch` of a run seeded `seed`. */
export const viewRng = (seed: number, epoch: number, key: string, viewIndex: number): Rng =>
  deriveRng(seed, epoch, key, viewIndex);

/** Decode once and apply every spec, view i drawing from viewRng(seed, epoch, key, i). */
export async function decodeAndApplyViews(
  bytes: Uint8Array,
  specs: ViewSpec[],
  seeds: { seed: number; epoch: number; key: string },
  options: DecodeOptions = {},
): Promise<ByteView[]> {
  const img = await decodeImage(bytes, options);
  const out: ByteView[] = [];
  for (let i = 0; i < specs.length; i++)
    out.push(applyViewBytes(img, specs[i], viewRng(seeds.seed, seeds.epoch, seeds.key, i)));
  return out;
}

/** Main-thread, non-stream: decode `bytes` and apply `spec` with `rng`'s draws (evaluation code). */
export async function decodeAndApply(
  bytes: Uint8Array,
  spec: ViewSpec,
  rng: UniformSource,
  options: DecodeOptions = {},
): Promise<ImageView> {
  const img = await decodeImage(bytes, options);
  return applyView(img, spec, rng);
}
