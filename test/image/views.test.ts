// View specs, presets, seeded parameter sampling, decoding of every input kind, and bad-image rejection
// (inputs generated here with sharp and by hand), all on the main thread.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { validateViewSpec, type ViewSpec } from '../../src/image/view-spec.ts';
import { viewPresets, imagenetStats, openaiClipStats } from '../../src/image/presets.ts';
import { planView, type PlanStep } from '../../src/image/sample-params.ts';
import { decodeAndApply, decodeAndApplyViews, byteViewToFloat, viewRng } from '../../src/image/transform.ts';
import { decodeImage, ImageDecodeError } from '../../src/image/decode.ts';
import { deriveRng } from '../../src/rng.ts';
import { sharedData } from '../helpers/shared-data.ts';

const photo = () => new Uint8Array(readFileSync(`${sharedData('data/flickr8k-1k/images')}/1001773457_577c3a7d70.jpg`));

test('presets are valid specs of the requested size, with the DeCLIP parameters', (t) => {
  for (const size of [32, 64, 224]) {
    for (const name of ['clip', 'mocov2', 'simclr', 'eval'] as const) {
      const spec = viewPresets[name](size);
      t.is(validateViewSpec(JSON.parse(JSON.stringify(spec))).size, size, name);
      t.deepEqual(spec.ops.at(-1), { op: 'normalize', ...imagenetStats }, name);
    }
  }
  t.deepEqual(viewPresets.clip(224).ops[0], {
    op: 'randomResizedCrop',
    size: 224,
    scale: [0.5, 1],
    ratio: [3 / 4, 4 / 3],
  });
  t.deepEqual(
    viewPresets
      .mocov2(224)
      .ops.slice(0, 5)
      .map((o) => o.op),
    ['randomResizedCrop', 'colorJitter', 'grayscale', 'gaussianBlur', 'horizontalFlip'],
  );
  t.deepEqual(viewPresets.mocov2(224).ops[1], {
    op: 'colorJitter',
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0.4,
    hue: 0.1,
    p: 0.8,
  });
  t.deepEqual(viewPresets.mocov2(224).ops[3], { op: 'gaussianBlur', sigmaMin: 0.1, sigmaMax: 2, p: 0.5 });
  t.deepEqual((viewPresets.simclr(64).ops[0] as { scale: number[] }).scale, [0.08, 1]);
  t.deepEqual(viewPresets.eval(224).ops.slice(0, 2), [
    { op: 'resizeShorter', size: 256 },
    { op: 'centerCrop', size: 224 },
  ]);
  t.deepEqual(viewPresets.eval(64).ops[0], { op: 'resizeShorter', size: 73 });
  t.deepEqual(viewPresets.eval(224, openaiClipStats).ops[2], { op: 'normalize', ...openaiClipStats });
});

test('invalid view specs fail with one-line errors', (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /expected an object/],
    [{ size: 0, ops: [] }, /size must be an integer/],
    [{ size: 32, ops: [{ op: 'rotate' }] }, /ops\[0\].*unknown op/],
    [
      {
        size: 32,
        ops: [
          { op: 'normalize', mean: [0, 0, 0], std: [1, 1, 1] },
          { op: 'centerCrop', size: 32 },
        ],
      },
      /normalize must be the last op/,
    ],
    [{ size: 32, ops: [{ op: 'centerCrop', size: 30 }] }, /produce 30 .* size is 32/],
    [{ size: 32, ops: [{ op: 'resizeShorter', size: 32 }] }, /non-square/],
    [
      { size: 32, ops: [{ op: 'randomResizedCrop', size: 32, scale: [0.5, 1.5], ratio: [0.75, 1.33] }] },
      /scale must be/,
    ],
    [
      {
        size: 32,
        ops: [
          { op: 'centerCrop', size: 32 },
          { op: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.7, p: 1 },
        ],
      },
      /hue must be in/,
    ],
    [
      {
        size: 32,
        ops: [
          { op: 'centerCrop', size: 32 },
          { op: 'horizontalFlip', p: 2 },
        ],
      },
      /p must be in/,
    ],
  ];
  for (const [spec, re] of bad) {
    const err = t.throws(() => validateViewSpec(spec));
    t.regex(err!.message, re);
    t.false(err!.message.includes('\n'));
  }
});

test("MoCo-v2 parameter draws: seeded, in range, with torchvision's probabilities and all 24 jitter orders", (t) => {
  const spec = viewPresets.mocov2(224);
  const plan = (i: number) => planView(spec, 500, 375, deriveRng(3, 0, `k${i}`, 0));
  t.deepEqual(plan(5), plan(5));
  t.notDeepEqual(plan(5), plan(6));
  const n = 3000;
  let jitter = 0,
    gray = 0,
    blur = 0,
    flip = 0;
  const orders = new Set<string>();
  for (let i = 0; i < n; i++) {
    const steps = plan(i);
    const crop = steps[0] as Extract<PlanStep, { kind: 'resizedCrop' }>;
    const { box } = crop;
    t.true(
      box.left >= 0 &&
        box.top >= 0 &&
        box.left + box.width <= 500 &&
        box.top + box.height <= 375 &&
        crop.outWidth === 224,
    );
    const area = (box.width * box.height) / (500 * 375);
    t.true(
      area > 0.19 && area < 1.01 && box.width / box.height > 0.74 && box.width / box.height < 1.35,
      JSON.stringify(box),
    );
    const colour = steps.filter((s) => ['brightness', 'contrast', 'saturation', 'hue'].includes(s.kind)) as Array<{
      kind: string;
      factor: number;
    }>;
    if (colour.length) {
      jitter++;
      t.is(colour.length, 4);
      orders.add(colour.map((s) => s.kind[0]).join(''));
    }
    for (const s of colour) t.true(s.kind === 'hue' ? Math.abs(s.factor) <= 0.1 : s.factor >= 0.6 && s.factor <= 1.4);
    if (steps.some((s) => s.kind === 'grayscale')) gray++;
    const b = steps.find((s) => s.kind === 'blur') as { sigma: number } | undefined;
    if (b) {
      blur++;
      t.true(b.sigma >= 0.1 && b.sigma <= 2);
    }
    if (steps.some((s) => s.kind === 'flip')) flip++;
  }
  const near = (count: number, p: number) => Math.abs(count / n - p) < 4 * Math.sqrt((p * (1 - p)) / n);
  t.true(near(jitter, 0.8), `jitter ${jitter / n}`);
  t.true(near(gray, 0.2), `grayscale ${gray / n}`);
  t.true(near(blur, 0.5), `blur ${blur / n}`);
  t.true(near(flip, 0.5), `flip ${flip / n}`);
  t.is(orders.size, 24);
});

test('decodeAndApply: seeded views bit-identical, differ across keys/views, match the multi-view path', async (t) => {
  const bytes = photo();
  const spec = viewPresets.mocov2(64);
  const a = await decodeAndApply(bytes, spec, viewRng(11, 2, 'img', 0));
  const b = await decodeAndApply(bytes, spec, viewRng(11, 2, 'img', 0));
  t.is(a.data.length, 64 * 64 * 3);
  t.deepEqual([a.height, a.width], [64, 64]);
  t.deepEqual(a.data, b.data);
  const c = await decodeAndApply(bytes, spec, viewRng(11, 3, 'img', 0));
  t.notDeepEqual(a.data, c.data);
  const both = await decodeAndApplyViews(bytes, [spec, spec], { seed: 11, epoch: 2, key: 'img' });
  t.deepEqual(byteViewToFloat(both[0]).data, a.data);
  t.notDeepEqual(byteViewToFloat(both[1]).data, a.data);
  const ev = await decodeAndApply(bytes, viewPresets.eval(32), viewRng(0, 0, 'x', 0));
  const ev2 = await decodeAndApply(bytes, viewPresets.eval(32), viewRng(1, 1, 'y', 1));
  t.deepEqual(ev.data, ev2.data, 'the eval view has no randomness');
});

const W = 8,
  H = 6;
function solid(rgb: [number, number, number], alphaTopHalf = false) {
  const ch = alphaTopHalf ? 4 : 3;
  const d = Buffer.alloc(W * H * ch);
  for (let i = 0; i < W * H; i++) {
    d.set(rgb, i * ch);
    if (alphaTopHalf) d[i * ch + 3] = i < (W * H) / 2 ? 0 : 255;
  }
  return sharp(d, { raw: { width: W, height: H, channels: ch as 3 | 4 } });
}
const pixel = (img: { data: Uint8Array; width: number }, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];

test('decodes PNG, WebP, grayscale, CMYK, 16-bit and alpha images to 8-bit RGB', async (t) => {
  const rgb: [number, number, number] = [200, 100, 50];
  const png = await decodeImage(await solid(rgb).png().toBuffer());
  t.deepEqual([png.width, png.height, png.data.length], [W, H, W * H * 3]);
  t.deepEqual(pixel(png, 3, 3), rgb);
  t.deepEqual(pixel(await decodeImage(await solid(rgb).webp({ lossless: true }).toBuffer()), 7, 5), rgb);
  t.deepEqual(
    pixel(await decodeImage(await solid([90, 90, 90]).toColourspace('b-w').jpeg().toBuffer()), 0, 0),
    [90, 90, 90],
  );
  const png16 = await solid(rgb).toColourspace('rgb16').png().toBuffer();
  t.is((await sharp(png16).metadata()).depth, 'ushort');
  t.deepEqual(pixel(await decodeImage(png16), 1, 1), rgb);
  const cmyk = await solid(rgb).toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer();
  t.is((await sharp(cmyk).metadata()).space, 'cmyk');
  const c = pixel(await decodeImage(cmyk), 2, 2);
  t.true(
    c.every((v, i) => Math.abs(v - rgb[i]) <= 30),
    `CMYK round trip ${c}`,
  );
  const rgba = await decodeImage(await solid(rgb, true).png().toBuffer());
  t.deepEqual(pixel(rgba, 0, 0), [255, 255, 255], 'transparent pixels are flattened onto white');
  t.deepEqual(pixel(rgba, 0, H - 1), rgb);
});

test('EXIF orientation is applied', async (t) => {
  // left half red, right half blue; orientation 6 means "rotate 90 degrees clockwise to display"
  const d = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) d.set(x < W / 2 ? [255, 0, 0] : [0, 0, 255], (y * W + x) * 3);
  const jpeg = await sharp(d, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const img = await decodeImage(jpeg);
  t.deepEqual([img.width, img.height], [H, W]);
  const top = pixel(img, 2, 0),
    bottom = pixel(img, 2, W - 1);
  t.true(top[0] > 200 && top[2] < 60, `top ${top}`);
  t.true(bottom[2] > 200 && bottom[0] < 60, `bottom ${bottom}`);
});

function pngWithHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('bad images rejected with a reason: empty, garbage, truncated, corrupt, absurd size, bomb', async (t) => {
  const jpg = photo();
  const bomb = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  t.true(bomb.length < 100_000);
  const cases: Array<[string, Uint8Array, string, number?]> = [
    ['empty', new Uint8Array(0), 'empty'],
    ['garbage', new Uint8Array(1000).fill(7), 'unsupported'],
    ['truncated JPEG', jpg.subarray(0, jpg.length >> 1), 'corrupt'],
    ['truncated header', jpg.subarray(0, 100), 'corrupt'],
    [
      'corrupt entropy data',
      new Uint8Array(Buffer.concat([jpg.subarray(0, 2000), Buffer.alloc(3000, 0xff), jpg.subarray(5000)])),
      'corrupt',
    ],
    ['absurd 100000x100000 header', pngWithHeader(100_000, 100_000), 'too-large'],
    ['zero width header', pngWithHeader(0, 10), 'corrupt'],
    ['9 MP bomb over a 1 MP limit', bomb, 'too-large', 1_000_000],
  ];
  for (const [name, bytes, reason, maxPixels] of cases) {
    const err = await t.throwsAsync(decodeImage(bytes, { maxPixels }), { instanceOf: ImageDecodeError }, name);
    t.is((err as ImageDecodeError).reason as string, reason, name);
    t.false(err!.message.includes('\n'));
  }
  const ok = await decodeImage(bomb, { maxPixels: 10_000_000 });
  t.deepEqual([ok.width, ok.height], [3000, 3000]);
});

test('views smaller than the crop are zero-padded (CenterCrop); tiny images survive RandomResizedCrop', async (t) => {
  const tiny = await solid([10, 20, 30]).png().toBuffer(); // 8x6
  const spec: ViewSpec = { size: 10, ops: [{ op: 'centerCrop', size: 10 }] };
  const v = await decodeAndApply(tiny, spec, viewRng(0, 0, 't', 0));
  t.is(v.data.length, 300);
  t.is(v.data[0], 0); // padded corner
  t.is(v.data[(5 * 10 + 5) * 3], Math.fround(10 / 255));
  const one = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const r = await decodeAndApply(one, viewPresets.mocov2(16), viewRng(0, 0, 'one', 0));
  t.is(r.data.length, 16 * 16 * 3);
  t.true(r.data.every(Number.isFinite));
});
