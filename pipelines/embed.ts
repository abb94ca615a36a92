// L2-normalised image and text embeddings of a CLIP model.
//
//   node pipelines/embed.ts --weights W.safetensors --images DIR --texts FILE --out emb.json
//        [--vocab PATH] [--variant openai|declip] [--normalize openai|imagenet] [--batch-size 64]
//        [--vision-heads N] [--text-heads N] [--allow-unexpected]
//        [--backend auto|wasm|cpu] [--quiet]
//
// --weights: a checkpoint (dir) or clip-bench weights file, whose recorded model, tokenizer and normalisation are used
//           (the flags override them), or OpenAI/open_clip/DeCLIP-named safetensors (architecture inferred from the
//           shapes, guesses said on stderr).
// --images: every .jpg/.jpeg/.png/.webp/.gif/.tif/.tiff/.avif file of DIR (sorted by name), eval preprocessing:
//           resize the shorter side to round(size*256/224), centre crop, normalise; an image already at the
//           model's resolution is only normalised. --texts: one caption per non-empty line.
// Writes { weights, config, normalize, images: [{file, embedding}], texts: [{text, embedding}] }.
import { parseArgs } from 'node:util';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { initBackend, shutdownBackend } from '../src/backend.ts';
import type { BackendChoice } from '../src/backend.ts';
import { loadEvalModel } from '../src/eval/load-model.ts';
import { loadOptions, reportLoadNotes, runCli } from '../run/eval-cli.ts';
import { evalImageView } from '../src/eval/eval-image.ts';
import { imageEmbeddings, textEmbeddings } from '../src/models/embed.ts';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

const rows = (flat: Float32Array, n: number) =>
  Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * (flat.length / n), (i + 1) * (flat.length / n))));

export async function main(argv = process.argv.slice(2)): Promise<{ images: number; texts: number; out: string }> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      weights: { type: 'string' },
      images: { type: 'string' },
      texts: { type: 'string' },
      out: { type: 'string' },
      vocab: { type: 'string' },
      variant: { type: 'string' },
      normalize: { type: 'string' },
      'vision-heads': { type: 'string' },
      'text-heads': { type: 'string' },
      'allow-unexpected': { type: 'boolean', default: false },
      'batch-size': { type: 'string', default: '64' },
      backend: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.weights) throw new Error('--weights is required (a .safetensors file or a checkpoint directory)');
  if (!values.out) throw new Error('--out is required (the JSON file to write)');
  if (!values.images && !values.texts) throw new Error('give --images DIR and/or --texts FILE');
  const batchSize = Number(values['batch-size']);
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new Error(`--batch-size must be a positive integer, got ${values['batch-size']}`);
  const quiet = values.quiet;
  await initBackend({ backend: values.backend as BackendChoice | undefined, quiet });
  const { model, tokenizer, weightsFile, normalisation, notes } = await loadEvalModel(loadOptions(values));
  reportLoadNotes(notes, quiet);
  const stats = normalisation.stats;
  try {
    const size = model.config.vision.imageSize;
    const images: Array<{ file: string; embedding: number[] }> = [];
    if (values.images) {
      const dir = values.images;
      const files = (
        await readdir(dir).catch((e) => {
          throw new Error(`--images: cannot read ${dir}: ${(e as Error).message}`);
        })
      )
        .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
        .sort();
      if (files.length === 0) throw new Error(`--images: no image files in ${dir}`);
      for (let start = 0; start < files.length; start += batchSize) {
        const group = files.slice(start, start + batchSize);
        const per = size * size * 3;
        const pixels = new Float32Array(group.length * per);
        for (let i = 0; i < group.length; i++) {
          const bytes = new Uint8Array(await readFile(join(dir, group[i])));
          const view = await evalImageView({ kind: 'encoded', bytes }, size, stats).catch((e) => {
            throw new Error(`${group[i]}: ${(e as Error).message}`);
          });
          pixels.set(view.data, i * per);
        }
        rows(imageEmbeddings(model, pixels, group.length), group.length).forEach((embedding, i) =>
          images.push({ file: group[i], embedding }),
        );
      }
    }
    const texts: Array<{ text: string; embedding: number[] }> = [];
    if (values.texts) {
      const lines = (
        await readFile(values.texts, 'utf8').catch((e) => {
          throw new Error(`--texts: cannot read ${values.texts}: ${(e as Error).message}`);
        })
      )
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
      if (lines.length === 0) throw new Error(`--texts: ${values.texts} has no non-empty lines`);
      for (let start = 0; start < lines.length; start += batchSize) {
        const group = lines.slice(start, start + batchSize);
        rows(textEmbeddings(model, tokenizer.encodeBatch(group), group.length), group.length).forEach((embedding, i) =>
          texts.push({ text: group[i], embedding }),
        );
      }
    }
    await writeFile(
      values.out,
      JSON.stringify({ weights: weightsFile, config: model.config, normalize: normalisation.name, images, texts }),
    );
    if (!quiet)
      console.log(
        `embed: ${images.length} image(s), ${texts.length} text(s), dim ${model.config.embedDim} -> ${values.out}`,
      );
    return { images: images.length, texts: texts.length, out: values.out };
  } finally {
    model.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runCli('embed', () => main(), shutdownBackend);
