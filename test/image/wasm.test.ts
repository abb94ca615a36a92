// The WebAssembly pixel kernels (src/image/pixel-kernels.c) against the TypeScript reference implementation:
// identical bytes / floats for random plans of every preset on random-noise images of awkward sizes and on
// real photos, plus the kernel switch.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import {
  executePlan,
  tablesFor,
  pixelKernels,
  setPixelKernels,
  applyView,
  decodeAndApply,
  viewRng,
} from '../../src/image/transform.ts';
import { executePlanWasm, wasmKernelsAvailable } from '../../src/image/wasm-pixel-ops.ts';
import { toFloat, type RgbImage } from '../../src/image/pixel-ops.ts';
import { planView, type PlanStep } from '../../src/image/sample-params.ts';
import { viewPresets } from '../../src/image/presets.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { deriveRng, Rng } from '../../src/rng.ts';
import { sharedData } from '../helpers/shared-data.ts';

function noise(width: number, height: number, rng: Rng): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rng.nextUint32() & 255;
  // smooth half of the rows so blur / resize see gradients as well as noise
  for (let y = 0; y < height; y += 2)
    for (let x = 0; x < width * 3; x++) data[y * width * 3 + x] = (x * 7 + y * 3) & 255;
  return { data, width, height };
}

function sameOutput(t: import('ava').ExecutionContext, img: RgbImage, steps: PlanStep[], label: string) {
  const js = executePlan(img, steps);
  const jsFloat = toFloat(js.image.data, tablesFor(js.normalize));
  const wasm = executePlanWasm(img, steps, tablesFor);
  t.deepEqual([wasm.width, wasm.height], [js.image.width, js.image.height], label);
  let diff = 0;
  for (let i = 0; i < jsFloat.length; i++) if (jsFloat[i] !== wasm.floats![i]) diff++;
  t.is(diff, 0, `${label}: ${JSON.stringify(steps).slice(0, 200)}`);
  t.deepEqual(executePlanWasm(img, steps).bytes, js.image.data, label);
}

test('wasm kernels load and are the default', (t) => {
  t.true(wasmKernelsAvailable());
  t.is(pixelKernels(), process.env.CLIP_BENCH_IMAGE_KERNELS === 'js' ? 'js' : 'wasm');
});

test('random plans of every preset on noise images of awkward sizes: wasm = TypeScript', (t) => {
  const rng = new Rng(42);
  const sizes: Array<[number, number]> = [
    [1, 1],
    [2, 3],
    [7, 5],
    [64, 48],
    [300, 17],
    [17, 300],
    [257, 191],
    [640, 480],
  ];
  for (const [w, h] of sizes) {
    const img = noise(w, h, rng);
    for (const name of ['clip', 'mocov2', 'simclr', 'eval'] as const) {
      for (const size of [16, 61, 224]) {
        for (let k = 0; k < 2; k++) {
          const steps = planView(viewPresets[name](size), w, h, deriveRng(w, h, name, size, k));
          sameOutput(t, img, steps, `${name}(${size}) on ${w}x${h}`);
        }
      }
    }
  }
});

test('every colour op and blur sigma on noise, and full MoCo chains on real photos: wasm = TypeScript', async (t) => {
  const rng = new Rng(7);
  const img = noise(96, 80, rng);
  const ops: PlanStep[] = [];
  for (let i = 0; i < 12; i++) {
    ops.push(
      { kind: 'brightness', factor: rng.uniform(0, 2) },
      { kind: 'contrast', factor: rng.uniform(0, 2) },
      { kind: 'saturation', factor: rng.uniform(0, 2) },
      { kind: 'hue', factor: rng.uniform(-0.5, 0.5) },
      { kind: 'blur', sigma: rng.uniform(0.1, 6) },
    );
  }
  ops.push({ kind: 'hue', factor: 0.5 }, { kind: 'hue', factor: -0.5 }, { kind: 'grayscale' }, { kind: 'flip' });
  for (const op of ops) sameOutput(t, img, [op], op.kind);
  const dir = sharedData('data/flickr8k-1k/images');
  for (const [i, f] of readdirSync(dir).sort().slice(0, 12).entries()) {
    const photo = await decodeImage(readFileSync(`${dir}/${f}`));
    sameOutput(t, photo, planView(viewPresets.mocov2(224), photo.width, photo.height, deriveRng(1, i)), f);
  }
});

test.serial('the kernel switch: the same view either way', async (t) => {
  const bytes = new Uint8Array(readFileSync(`${sharedData('data/flickr8k-1k/images')}/1001773457_577c3a7d70.jpg`));
  const before = pixelKernels();
  try {
    setPixelKernels('js');
    const js = await decodeAndApply(bytes, viewPresets.mocov2(64), viewRng(3, 0, 'a', 0));
    setPixelKernels('wasm');
    const wasm = await decodeAndApply(bytes, viewPresets.mocov2(64), viewRng(3, 0, 'a', 0));
    t.deepEqual(js.data, wasm.data);
    const img = await decodeImage(bytes);
    t.deepEqual(applyView(img, viewPresets.eval(32), viewRng(0, 0, 'b', 0)).data.length, 32 * 32 * 3);
  } finally {
    setPixelKernels(before);
  }
});
