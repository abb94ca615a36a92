// Parity of clip-bench's image ops with torchvision 0.14 / Pillow 9.4, against fixtures written by
// reference/augment_reference.py (fixtures/parity/image/augment.json). Every case runs through both the
// TypeScript reference (executePlan) and the WebAssembly kernels (executePlanWasm), which must agree exactly.
// Tolerance, stated per group:
//   - colour ops (brightness, contrast, saturation, hue, grayscale), MoCo's GaussianBlur, flip, crop: 0 (bit-exact
//     bytes)
//   - bilinear Resize / RandomResizedCrop resampling (up and down, on the 64x48 input and a real photo): 0 (bit-exact)
//   - ToTensor + Normalize and whole MoCo-v2 chains with fixed parameters: 0 (identical float32 values)
//   - JPEG decode (sharp/libvips vs PIL) of two Flickr8k photos: 0 (same size, byte sum and 32x32 corner)
//   - RandomResizedCrop.get_params replaying torch's own draws: the same box in all 216 cases (incl. fallbacks)
import test from 'ava';
import { readFileSync } from 'node:fs';
import { executePlan, tablesFor } from '../../src/image/transform.ts';
import { toFloat, type RgbImage } from '../../src/image/pixel-ops.ts';
import { planView, randomResizedCropBox, type PlanStep } from '../../src/image/sample-params.ts';
import { decodeImage } from '../../src/image/decode.ts';
import { executePlanWasm } from '../../src/image/wasm-pixel-ops.ts';
import { validateViewSpec } from '../../src/image/view-spec.ts';
import { sharedData } from '../helpers/shared-data.ts';

interface Pixels {
  width: number;
  height: number;
  dtype: 'uint8' | 'float32';
  data: string;
}
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/parity/image/augment.json', import.meta.url), 'utf8'));

function decodePixels(p: Pixels): Uint8Array | Float32Array {
  const b = Buffer.from(p.data, 'base64');
  const copy = new Uint8Array(b); // aligned
  return p.dtype === 'uint8' ? copy : new Float32Array(copy.buffer);
}
const asImage = (p: Pixels): RgbImage => ({ data: decodePixels(p) as Uint8Array, width: p.width, height: p.height });
const input = asImage(fixture.input);

/** Both implementations of the pixel steps: the TypeScript reference and the WebAssembly kernels. */
const implementations = {
  js(img: RgbImage, steps: PlanStep[]): Uint8Array | Float32Array {
    const { image, normalize } = executePlan(img, steps);
    return steps.some((s) => s.kind === 'normalize') ? toFloat(image.data, tablesFor(normalize)) : image.data;
  },
  wasm(img: RgbImage, steps: PlanStep[]): Uint8Array | Float32Array {
    const float = steps.some((s) => s.kind === 'normalize');
    const r = executePlanWasm(img, steps, float ? tablesFor : undefined);
    return float ? r.floats! : r.bytes!;
  },
};
/** Run `steps` with both implementations; throws unless they agree exactly, returns the output. */
function run(img: RgbImage, steps: PlanStep[]): Uint8Array | Float32Array {
  const js = implementations.js(img, steps);
  const wasm = implementations.wasm(img, steps);
  if (js.length !== wasm.length || js.some((v, i) => v !== wasm[i]))
    throw new Error(`wasm and js differ for ${JSON.stringify(steps)}`);
  return js;
}

/** Number of differing elements and the largest absolute difference. */
function diff(got: ArrayLike<number>, want: ArrayLike<number>) {
  let n = 0,
    max = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (d !== 0) {
      n++;
      max = Math.max(max, d);
    }
  }
  return { n, max, lengths: `${got.length}/${want.length}` };
}
const exact = (want: ArrayLike<number>) => ({ n: 0, max: 0, lengths: `${want.length}/${want.length}` });

test("every op with fixed parameters gives torchvision's bytes / floats exactly", (t) => {
  t.true(fixture.ops.length >= 25);
  for (const c of fixture.ops) {
    const want = decodePixels(c.output);
    const got = run(input, c.steps);
    t.deepEqual(diff(got, want), exact(want), JSON.stringify(c.steps));
  }
});

test('colour ops and blur on 4096 random colours (and a gray ramp, primaries) match Pillow exactly', (t) => {
  const noise = asImage(fixture.noise.input);
  t.true(fixture.noise.ops.length >= 15);
  for (const c of fixture.noise.ops) {
    const want = decodePixels(c.output);
    const got = run(noise, c.steps);
    t.deepEqual(diff(got, want), exact(want), JSON.stringify(c.steps));
  }
});

test('resizeShorter + centerCrop (+ zero padding, + normalize) specs match Resize/CenterCrop exactly', (t) => {
  for (const c of fixture.specs) {
    const spec = validateViewSpec(c.spec);
    const steps = planView(spec, input.width, input.height, {
      uniform: () => {
        throw new Error('no draws');
      },
      int: () => {
        throw new Error('no draws');
      },
      random: () => {
        throw new Error('no draws');
      },
    });
    const want = decodePixels(c.output);
    const got = run(input, steps);
    t.is(got.length, spec.size * spec.size * 3);
    t.deepEqual(diff(got, want), exact(want), JSON.stringify(c.spec.ops));
  }
});

test('whole MoCo-v2 chains with fixed parameters match torchvision exactly, float32 out', (t) => {
  for (const c of fixture.pipelines) {
    const want = decodePixels(c.output);
    const got = run(input, c.steps);
    t.true(got instanceof Float32Array);
    t.deepEqual(diff(got, want), exact(want));
    const cropped = asImage(c.afterCrop);
    const fromCrop = run(cropped, c.steps.slice(1));
    t.deepEqual(diff(fromCrop, decodePixels(c.outputFromCrop)), exact(want));
  }
});

test('bilinear resampling of a real photo (decoded by sharp) matches PIL exactly', async (t) => {
  const photo = await decodeImage(readFileSync(`${sharedData('data/flickr8k-1k/images')}/${fixture.photo.file}`));
  for (const c of fixture.photo.cases) {
    const want = decodePixels(c.output);
    const got = run(photo, [c.step]);
    t.deepEqual(diff(got, want), exact(want), JSON.stringify(c.step.box));
  }
});

test('sharp decodes Flickr8k JPEGs to the same pixels as PIL', async (t) => {
  for (const d of fixture.decode) {
    const img = await decodeImage(readFileSync(`${sharedData('data/flickr8k-1k/images')}/${d.file}`));
    t.deepEqual([img.width, img.height], [d.width, d.height]);
    let sum = 0;
    for (const v of img.data) sum += v;
    t.is(sum, d.sum, d.file);
    const corner = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 32; y++) corner.set(img.data.subarray(y * img.width * 3, y * img.width * 3 + 96), y * 96);
    t.deepEqual(corner, decodePixels({ width: 32, height: 32, dtype: 'uint8', data: d.corner }));
  }
});

test("RandomResizedCrop replays torch's draws to torchvision's boxes (incl. the centre-crop fallback)", (t) => {
  let fallbacks = 0;
  for (const r of fixture.rrc) {
    let k = 0;
    const next = (kind: string) => {
      const [got, v] = r.draws[k++];
      if (got !== kind) throw new Error(`draw ${k}: expected ${kind}, replay has ${got}`);
      return v;
    };
    const box = randomResizedCropBox(r.width, r.height, r.scale, r.ratio, {
      uniform: () => next('u'),
      int: () => next('i'),
      random: () => {
        throw new Error('unexpected');
      },
    });
    t.deepEqual(box, r.box, JSON.stringify({ w: r.width, h: r.height, scale: r.scale, ratio: r.ratio }));
    t.is(k, r.draws.length);
    if (r.draws.length === 20) fallbacks++;
  }
  t.is(fixture.rrc.length, 216);
  t.true(fallbacks > 20, `fallback cases covered: ${fallbacks}`);
});
