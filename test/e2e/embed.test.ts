import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng } from '../../src/rng.ts';
import { ParamStore } from '../../src/nn/params.ts';
import { createClip } from '../../src/models/clip.ts';
import { buildClipConfig } from '../../src/models/presets.ts';
import { saveClipWeights } from '../../src/weights/clip-weights.ts';
import { openaiClipStats } from '../../src/image/presets.ts';
import { loadTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import { shutdownBackend } from '../../src/backend.ts';
import { embedCommand as main } from '../../run/eval/embed-command.ts';

test.after.always(() => shutdownBackend());

test.serial(
  'embed pipeline: unit-norm embeddings equal to the model on the same inputs; native-resolution images are ' +
    'not resampled',
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'embed-'));
    try {
      await tf.setBackend('cpu');
      const model = createClip(buildClipConfig('tiny'), new ParamStore(), new Rng(9));
      const weights = path.join(dir, 'tiny.safetensors');
      await saveClipWeights(model, weights);
      const imgDir = path.join(dir, 'images');
      mkdirSync(imgDir);
      const rng = new Rng(10);
      const raw = Uint8Array.from({ length: 32 * 32 * 3 }, () => rng.int(256));
      await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toFile(path.join(imgDir, 'a.png'));
      const raw2 = Uint8Array.from({ length: 48 * 40 * 3 }, () => rng.int(256));
      await sharp(raw2, { raw: { width: 48, height: 40, channels: 3 } })
        .png()
        .toFile(path.join(imgDir, 'b.png'));
      writeFileSync(path.join(imgDir, 'notes.txt'), 'not an image');
      const texts = path.join(dir, 'texts.txt');
      writeFileSync(texts, 'a photo of a dog\n\na red car on a street\n');
      const out = path.join(dir, 'emb.json');

      const r = await main([
        '--weights',
        weights,
        '--images',
        imgDir,
        '--texts',
        texts,
        '--out',
        out,
        '--backend',
        'cpu',
        '--quiet',
        '--batch-size',
        '1',
      ]);
      t.deepEqual(r, { images: 2, texts: 2, out });
      const json = JSON.parse(readFileSync(out, 'utf8'));
      t.deepEqual(
        json.images.map((i: { file: string }) => i.file),
        ['a.png', 'b.png'],
      );
      t.deepEqual(
        json.texts.map((i: { text: string }) => i.text),
        ['a photo of a dog', 'a red car on a street'],
      );
      for (const e of [...json.images, ...json.texts]) {
        t.is(e.embedding.length, 64);
        t.true(Math.abs(Math.hypot(...e.embedding) - 1) < 1e-5);
      }
      // a.png is at the model resolution: its embedding is the model's on the normalised pixels, bit for bit in layout
      const px = Float32Array.from(raw, (v, i) => (v / 255 - openaiClipStats.mean[i % 3]) / openaiClipStats.std[i % 3]);
      const expected = tf.tidy(() => {
        const e = model.encodeImage(tf.tensor4d(px, [1, 32, 32, 3]), { training: false }).embedding;
        return Array.from(tf.div(e, tf.norm(e)).dataSync());
      });
      const worst = Math.max(...expected.map((v, i) => Math.abs(v - json.images[0].embedding[i])));
      t.true(worst < 1e-5, `image embedding differs by ${worst}`);
      const tok = await loadTokenizer({ contextLength: 77 });
      const te = tf.tidy(() => {
        const e = model.encodeText(tf.tensor2d(tok.encodeBatch(['a red car on a street']), [1, 77], 'int32'), {
          training: false,
        }).embedding;
        return Array.from(tf.div(e, tf.norm(e)).dataSync());
      });
      t.true(Math.max(...te.map((v, i) => Math.abs(v - json.texts[1].embedding[i]))) < 1e-5);

      await t.throwsAsync(main(['--weights', weights, '--texts', texts, '--backend', 'cpu', '--quiet']), {
        message: /--out is required/,
      });
      await t.throwsAsync(
        main(['--weights', weights, '--images', path.join(dir, 'nope'), '--out', out, '--backend', 'cpu', '--quiet']),
        { message: /--images: cannot read/ },
      );
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
