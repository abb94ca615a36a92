// Convert image datasets into webdataset shards (image bytes copied unchanged, never re-encoded):
//   folder:   an image folder with one sub-folder per class -> <img> + cls shards (cls = index of the
//             class in sorted folder order); classnames.txt (one class per line) is written next to the shards.
//   captions: a CSV/TSV table of image path + caption (header row, several rows per image allowed)
//             -> <img> + txt (captions joined by "\n") + json ({"image", "captions": [...]}) shards.
// Usage:
//   node pipelines/make-shards.ts folder DIR OUT_PATTERN [--shuffle SEED] [--max-count N] [--max-size BYTES] [--strict]
//   node pipelines/make-shards.ts captions TABLE OUT_PATTERN [--images DIR] [--image-column C] [--caption-column C]
//                                 [--max-count N] [--max-size BYTES] [--strict]
//   OUT_PATTERN like out/train-%06d.tar. Counters are printed at the end.
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createContext, runStages, type StageContext } from '../stages/core/stage.ts';
import { writeShards, type WriteShardsResult } from '../stages/webdataset/write-shards.ts';
import { loadImageFiles } from '../stages/image/load-image-files.ts';
import { listClassFolder } from '../stages/eval/class-folder-source.ts';
import { captionTableEntries, type CaptionTableOptions } from '../stages/eval/caption-table-source.ts';

export interface ShardOutputOptions {
  pattern: string;
  maxCount?: number;
  maxSize?: number;
  strict?: boolean;
  ctx?: StageContext;
}

export async function makeClassFolderShards(
  options: ShardOutputOptions & { root: string; shuffleSeed?: number },
): Promise<WriteShardsResult & { classes: string[] }> {
  const ctx = options.ctx ?? createContext();
  const { classes, entries } = await listClassFolder(options.root, { shuffleSeed: options.shuffleSeed });
  await mkdir(dirname(options.pattern), { recursive: true });
  await writeFile(join(dirname(options.pattern), 'classnames.txt'), classes.join('\n') + '\n');
  const result = await runStages(
    ctx,
    entries,
    [loadImageFiles({ strict: options.strict })],
    writeShards({ pattern: options.pattern, maxCount: options.maxCount, maxSize: options.maxSize }),
  );
  return { ...result, classes };
}

export async function makeCaptionShards(options: ShardOutputOptions & CaptionTableOptions): Promise<WriteShardsResult> {
  const ctx = options.ctx ?? createContext();
  return runStages(
    ctx,
    captionTableEntries(options, ctx),
    [loadImageFiles({ strict: options.strict })],
    writeShards({ pattern: options.pattern, maxCount: options.maxCount, maxSize: options.maxSize }),
  );
}

const usage = `node pipelines/make-shards.ts folder DIR OUT_PATTERN [--shuffle SEED] [--max-count N] [--max-size BYTES] [--strict]
node pipelines/make-shards.ts captions TABLE OUT_PATTERN [--images DIR] [--image-column C] [--caption-column C] [--max-count N] [--max-size BYTES] [--strict]
`;

function positiveNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      shuffle: { type: 'string' },
      'max-count': { type: 'string' },
      'max-size': { type: 'string' },
      strict: { type: 'boolean' },
      images: { type: 'string' },
      'image-column': { type: 'string' },
      'caption-column': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [mode, input, pattern] = positionals;
  if (values.help || !mode || !input || !pattern || (mode !== 'folder' && mode !== 'captions')) {
    process.stdout.write(usage);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const ctx = createContext();
  const common = {
    pattern,
    maxCount: positiveNumber('max-count', values['max-count']),
    maxSize: positiveNumber('max-size', values['max-size']),
    strict: values.strict,
    ctx,
  };
  const started = Date.now();
  try {
    const result =
      mode === 'folder'
        ? await makeClassFolderShards({
            ...common,
            root: input,
            shuffleSeed: values.shuffle === undefined ? undefined : Number(values.shuffle),
          })
        : await makeCaptionShards({
            ...common,
            table: input,
            images: values.images,
            imageColumn: values['image-column'],
            captionColumn: values['caption-column'],
          });
    process.stdout.write(
      JSON.stringify({ shards: result.shards, samples: result.samples, seconds: (Date.now() - started) / 1000 }) + '\n',
    );
  } finally {
    process.stderr.write(ctx.counters.format() + '\n');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
