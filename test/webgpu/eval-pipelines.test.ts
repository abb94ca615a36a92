// Evaluation on webgpu gives what wasm gives: pipelines/embed.ts (the same embeddings) and pipelines/zero-shot.ts (the
// same predictions) with the PyTorch-trained tiny CLIP of the zero-shot parity fixture, on a CIFAR-10 subset.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shutdownBackend } from '../../src/backend.ts';
import { embedCommand as embed } from '../../run/eval/embed-command.ts';
import { zeroShotCommand as zeroShot } from '../../run/eval/zero-shot-command.ts';
import { sharedData } from '../helpers/shared-data.ts';
import { gpuTestFor, webgpuUnavailable } from '../helpers/webgpu.ts';
import test from 'ava';

const gpuTest = gpuTestFor(await webgpuUnavailable());
test.after.always(() => shutdownBackend());

const fixtures = new URL('../../fixtures/', import.meta.url).pathname;
const weights = join(fixtures, 'parity/zero-shot/tiny-clip-cifar10.safetensors');
const vocab = join(fixtures, 'demo/vocab.txt.gz');
const PER_CLASS = 12;

/** A class-folder copy (symlinks) of the first PER_CLASS images of each CIFAR-10 test class. */
async function cifarSubset(dir: string): Promise<string> {
  const src = sharedData('data/cifar10-test');
  const root = join(dir, 'cifar-subset');
  for (const cls of (await readdir(src)).sort()) {
    await mkdir(join(root, cls), { recursive: true });
    for (const f of (await readdir(join(src, cls))).sort().slice(0, PER_CLASS))
      await symlink(join(src, cls, f), join(root, cls, f));
  }
  return root;
}

gpuTest('embed and zero-shot pipelines give the same results on webgpu as on wasm', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gpu-eval-'));
  try {
    const data = await cifarSubset(dir);
    const texts = join(dir, 'texts.txt');
    await writeFile(texts, 'a photo of a cat\na photo of a truck\nan airplane in the sky\n');
    const runEmbed = async (backend: string) => {
      const out = join(dir, `emb-${backend}.json`);
      await embed([
        ...['--weights', weights, '--images', join(data, 'cat'), '--texts', texts, '--out', out],
        ...['--vocab', vocab, '--normalize', 'openai', '--backend', backend, '--quiet'],
      ]);
      return JSON.parse(await readFile(out, 'utf8')) as {
        images: Array<{ embedding: number[] }>;
        texts: Array<{ embedding: number[] }>;
      };
    };
    const a = await runEmbed('wasm');
    const b = await runEmbed('webgpu');
    t.is(tf.getBackend(), 'webgpu');
    t.is(a.images.length, PER_CLASS);
    let worst = 0;
    for (const kind of ['images', 'texts'] as const)
      a[kind].forEach((row, i) =>
        row.embedding.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - b[kind][i]!.embedding[j]!));
        }),
      );
    t.true(worst < 1e-5, `embeddings differ by up to ${worst}`);

    const runZeroShot = (backend: string) =>
      zeroShot([
        ...['--weights', weights, '--data', data, '--dataset', 'cifar10', '--vocab', vocab, '--normalize', 'openai'],
        ...['--prompts', sharedData('data/zero-shot/classnames-and-templates.json'), '--out', join(dir, backend)],
        ...['--backend', backend, '--quiet'],
      ]);
    const w = await runZeroShot('wasm');
    const g = await runZeroShot('webgpu');
    t.is(g.result.predictions.length, 10 * PER_CLASS);
    t.deepEqual(g.result.predictions, w.result.predictions);
    t.is(g.record.metrics.acc1, w.record.metrics.acc1);
    t.log(
      `zero-shot acc1 ${w.record.metrics.acc1} on ${10 * PER_CLASS} images, both backends; embeddings within ${worst}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
