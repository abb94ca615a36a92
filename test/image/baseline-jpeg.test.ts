import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { sharedData } from '../helpers/shared-data.ts';
import { decodeBaselineJpeg } from '../../src/image/baseline-jpeg.ts';
import { decodeImage, ImageDecodeError } from '../../src/image/decode.ts';

/** sharp's own decode of `bytes` (what decodeImage gave before the JavaScript path): 8-bit sRGB HWC. */
async function viaSharp(bytes: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes, { failOn: 'warning', autoOrient: true })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

async function assertSame(t: import('ava').ExecutionContext, bytes: Uint8Array, what: string): Promise<void> {
  const ours = decodeBaselineJpeg(bytes, 1e8);
  if (!ours) return t.fail(`${what}: not decoded by the JavaScript path`);
  const ref = await viaSharp(bytes);
  t.is(ours.width, ref.width, what);
  t.is(ours.height, ref.height, what);
  let differ = 0;
  for (let i = 0; i < ref.data.length; i++) if (ours.data[i] !== ref.data[i]) differ++;
  t.is(differ, 0, `${what}: ${differ} of ${ref.data.length} bytes differ from sharp's`);
}

test('identical to sharp (libjpeg-turbo) on every 10th CIFAR-10 test image and 40 Flickr photos', async (t) => {
  const root = sharedData('data/cifar10-test');
  const cifar = readdirSync(root)
    .flatMap((c) => readdirSync(join(root, c)).map((f) => join(root, c, f)))
    .filter((_, i) => i % 10 === 0);
  const flickrDir = sharedData('data/flickr8k-1k/images');
  const flickr = readdirSync(flickrDir)
    .sort()
    .slice(0, 40)
    .map((f) => join(flickrDir, f));
  t.is(cifar.length, 1000);
  for (const f of [...cifar, ...flickr]) await assertSame(t, new Uint8Array(readFileSync(f)), f);
});

test('identical to sharp on noisy and smooth images of odd sizes, 4:2:0, 4:4:4 and grayscale, low and high quality', async (t) => {
  const sizes = [
    [5, 5],
    [7, 9],
    [17, 33],
    [33, 17],
    [64, 48],
    [101, 57],
  ];
  for (const [width, height] of sizes) {
    const noisy = sharp({
      create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 70 } },
    });
    const raw = await noisy.raw().toBuffer();
    // a smooth colour gradient with saturated corners (clamping in the colour conversion)
    const smooth = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const o = 3 * (y * width + x);
        smooth[o] = Math.round((255 * x) / (width - 1));
        smooth[o + 1] = Math.round((255 * y) / (height - 1));
        smooth[o + 2] = (x * 37 + y * 11) % 256;
      }
    for (const [name, pixels] of [
      ['noise', raw],
      ['gradient', smooth],
    ] as const) {
      const image = () => sharp(pixels, { raw: { width, height, channels: 3 } });
      for (const quality of [20, 97]) {
        for (const chromaSubsampling of ['4:2:0', '4:4:4']) {
          const bytes = await image().jpeg({ quality, chromaSubsampling }).toBuffer();
          await assertSame(t, new Uint8Array(bytes), `${name} ${width}x${height} q${quality} ${chromaSubsampling}`);
        }
        const gray = await image().toColourspace('b-w').jpeg({ quality }).toBuffer();
        await assertSame(t, new Uint8Array(gray), `${name} ${width}x${height} q${quality} grayscale`);
      }
    }
  }
});

/** The same JPEG with every quantisation step multiplied: the entropy-coded data then stands for larger numbers. */
function scaleQuantisation(jpeg: Uint8Array, factor: number): Uint8Array {
  const bytes = jpeg.slice();
  for (let p = 2; p < bytes.length && bytes[p] === 0xff; ) {
    const marker = bytes[p + 1],
      length = (bytes[p + 2] << 8) | bytes[p + 3];
    if (marker === 0xdb)
      for (let q = p + 4; q < p + 2 + length; q += 65)
        for (let i = 1; i <= 64; i++) bytes[q + i] = Math.min(255, bytes[q + i] * factor);
    if (marker === 0xda) break;
    p += 2 + length;
  }
  return bytes;
}

test('large coefficients: identical to sharp while in the range its SIMD IDCT shares with the C code, else left to sharp', async (t) => {
  let handledLarge = 0,
    leftToSharp = 0;
  for (const chromaSubsampling of ['4:2:0', '4:4:4'])
    for (const quality of [90, 100])
      for (const factor of [2, 3, 5, 8, 13, 40]) {
        const noisy = sharp({
          create: {
            width: 43,
            height: 33,
            channels: 3,
            background: '#000',
            noise: { type: 'gaussian', mean: 128, sigma: 90 },
          },
        });
        const bytes = scaleQuantisation(
          new Uint8Array(await noisy.jpeg({ quality, chromaSubsampling }).toBuffer()),
          factor,
        );
        if (decodeBaselineJpeg(bytes, 1e8) === undefined) {
          leftToSharp++;
          continue;
        }
        handledLarge++;
        await assertSame(t, bytes, `${chromaSubsampling} q${quality}, quantisation x${factor}`);
      }
  t.true(handledLarge > 0 && leftToSharp > 0, `${handledLarge} decoded, ${leftToSharp} left to sharp`);
});

test('what it does not reproduce exactly goes to sharp: progressive, EXIF rotation, ICC, CMYK, tiny, truncated, stray bytes', async (t) => {
  const base = sharp({
    create: {
      width: 40,
      height: 24,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 128, sigma: 50 },
    },
  });
  const pixels = await base.raw().toBuffer();
  const image = () => sharp(pixels, { raw: { width: 40, height: 24, channels: 3 } });
  const plain = new Uint8Array(await image().jpeg().toBuffer());
  t.truthy(decodeBaselineJpeg(plain, 1e8));
  const cases: Array<[string, Uint8Array]> = [
    ['progressive', new Uint8Array(await image().jpeg({ progressive: true }).toBuffer())],
    ['EXIF orientation 6', new Uint8Array(await image().withMetadata({ orientation: 6 }).jpeg().toBuffer())],
    ['ICC profile', new Uint8Array(await image().withIccProfile('p3').jpeg().toBuffer())],
    ['CMYK (Adobe marker)', new Uint8Array(await image().toColourspace('cmyk').jpeg().toBuffer())],
    [
      '4 pixels wide',
      new Uint8Array(
        await sharp(pixels.subarray(0, 4 * 4 * 3), { raw: { width: 4, height: 4, channels: 3 } })
          .jpeg()
          .toBuffer(),
      ),
    ],
    ['truncated', plain.subarray(0, plain.length - 40)],
    ['stray bytes before EOI', new Uint8Array([...plain.subarray(0, plain.length - 2), 0x12, 0x34, 0xff, 0xd9])],
    ['not a JPEG', new Uint8Array([0x89, 0x50, 0x4e, 0x47])],
  ];
  for (const [what, bytes] of cases) t.is(decodeBaselineJpeg(bytes, 1e8), undefined, what);
  t.is(decodeBaselineJpeg(plain, 40 * 24 - 1), undefined, 'over the pixel limit');
  // decodeImage hands them to sharp: it rejects the truncated one, decodes the others as it always did
  await t.throwsAsync(decodeImage(cases[5][1]), { instanceOf: ImageDecodeError });
  t.deepEqual((await decodeImage(cases[6][1])).data, (await viaSharp(cases[6][1])).data);
  const rotated = await decodeImage(cases[1][1]);
  t.deepEqual([rotated.width, rotated.height], [24, 40]);
});
