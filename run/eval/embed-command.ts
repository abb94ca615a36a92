// `node pipelines/embed.ts`: L2-normalised image and text embeddings of a CLIP model. Images go through the same
// worker-pool eval transform as every evaluation; an image that cannot be used is skipped and listed in `skipped`.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { initBackend, type BackendChoice } from '../../src/backend.ts';
import { loadEvalModel } from '../../src/eval/load-model.ts';
import { imageEmbeddings, textEmbeddings } from '../../src/models/embed.ts';
import { SkippedImages } from '../../src/eval/skipped-images.ts';
import type { EvalItem } from '../../src/eval/datasets/types.ts';
import { loadOptions, positiveInt, reportLoadNotes } from '../eval-cli.ts';
import { streamImageBatches } from './image-batch-stream.ts';
import { evalCommandSpec, evalOptions } from './eval-command-options.ts';
import { parseCommandLine, type CommandOption } from '../command.ts';

const options: Record<string, CommandOption> = {
  weights: {
    type: 'string',
    arg: 'W',
    help: 'a .safetensors file (OpenAI/open_clip names), a checkpoint or run directory',
  },
  images: {
    type: 'string',
    arg: 'DIR',
    help: 'every .jpg/.jpeg/.png/.webp/.gif/.tif/.tiff/.avif file of DIR, by name',
  },
  texts: { type: 'string', arg: 'FILE', help: 'one caption per non-empty line' },
  out: { type: 'string', arg: 'FILE', help: 'the JSON file to write' },
  vocab: evalOptions.vocab,
  variant: evalOptions.variant,
  normalize: evalOptions.normalize,
  'vision-heads': evalOptions['vision-heads'],
  'text-heads': evalOptions['text-heads'],
  'allow-unexpected': evalOptions['allow-unexpected'],
  'batch-size': { ...evalOptions['batch-size'], default: '64' },
  backend: evalOptions.backend,
  quiet: evalOptions.quiet,
};

export const embedSpec = evalCommandSpec(
  {
    usage: '--weights W --images DIR --texts FILE --out emb.json [options]',
    about: 'L2-normalised image and text embeddings of a CLIP model.',
    notes: `Images get the eval preprocessing: resize the shorter side to round(size*256/224), centre crop, normalise; an
image already at the model's resolution is only normalised. An image that cannot be used is skipped and listed.
Writes { weights, config, normalize, images: [{file, embedding}], texts: [{text, embedding}], skipped? }.`,
  },
  options,
  {},
);

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

const rows = (flat: Float32Array, n: number) =>
  Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * (flat.length / n), (i + 1) * (flat.length / n))));

export async function embedCommand(
  argv: string[],
  signal?: AbortSignal,
): Promise<{ images: number; texts: number; out: string }> {
  const values = parseCommandLine({ options }, argv).values as Record<string, string | undefined> & {
    quiet: boolean;
    'allow-unexpected': boolean;
  };
  if (!values.weights) throw new Error('--weights is required (a .safetensors file or a checkpoint directory)');
  if (!values.out) throw new Error('--out is required (the JSON file to write)');
  if (!values.images && !values.texts) throw new Error('give --images DIR and/or --texts FILE');
  const batchSize = positiveInt('batch-size', values['batch-size']);
  const quiet = values.quiet;
  await initBackend({ backend: values.backend as BackendChoice | undefined, quiet });
  const { model, tokenizer, weightsFile, normalisation, notes } = await loadEvalModel(loadOptions(values));
  reportLoadNotes(notes, quiet);
  const stats = normalisation.stats;
  try {
    const images: Array<{ file: string; embedding: number[] }> = [];
    const skipped = new SkippedImages();
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
      const items: EvalItem[] = files.map((f) => ({
        key: f,
        source: join(dir, f),
        image: { kind: 'file', path: join(dir, f) },
      }));
      await streamImageBatches(
        items,
        {
          size: model.config.vision.imageSize,
          stats,
          batchSize,
          quiet,
          label: 'embed images',
          total: files.length,
          skipped,
        },
        async (batches) => {
          for await (const b of batches)
            rows(imageEmbeddings(model, b.pixels, b.n), b.n).forEach((embedding, i) =>
              images.push({ file: b.items[i].key, embedding }),
            );
        },
      );
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
      JSON.stringify({
        weights: weightsFile,
        config: model.config,
        normalize: normalisation.name,
        images,
        texts,
        ...(skipped.count > 0 ? { skipped: skipped.toJSON() } : {}),
      }),
    );
    if (!quiet) {
      console.log(
        `embed: ${images.length} image(s), ${texts.length} text(s), dim ${model.config.embedDim} -> ${values.out}`,
      );
      if (skipped.count > 0) console.log(skipped.summary('embed'));
    }
    return { images: images.length, texts: texts.length, out: values.out };
  } finally {
    model.dispose();
  }
}
