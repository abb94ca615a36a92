// Convert image datasets into webdataset shards (run/make-shards.ts): a class folder or a caption table.
//   node pipelines/make-shards.ts folder DIR OUT_PATTERN [--shuffle SEED] [--max-count N] [--max-size BYTES] [--strict]
//   node pipelines/make-shards.ts captions TABLE OUT_PATTERN [--images DIR] [--image-column C] [--caption-column C]
//                                 [--max-count N] [--max-size BYTES] [--strict]
import { isMain, runCommand, UsageError, type CommandSpec } from '../run/command.ts';
import { makeCaptionShards, makeClassFolderShards } from '../run/make-shards.ts';
import { createContext } from '../stages/core/stage.ts';

export const command = {
  usage: [
    'folder DIR OUT_PATTERN [--shuffle SEED] [--max-count N] [--max-size BYTES] [--strict]',
    'captions TABLE OUT_PATTERN [--images DIR] [--image-column C] [--caption-column C] [--max-count N] [--max-size BYTES] [--strict]',
  ],
  about:
    'Converts an image folder with one sub-folder per class (-> <img> + cls shards, classnames.txt beside them) or a\n' +
    'CSV/TSV table of image path + caption (-> <img> + txt + json shards) into webdataset shards; image bytes are\n' +
    'copied unchanged. OUT_PATTERN looks like out/train-%06d.tar. Prints {shards, samples, seconds}; counters on stderr.',
  options: {
    shuffle: { type: 'string', arg: 'SEED', help: 'folder: shuffle the samples with this seed' },
    'max-count': { type: 'string', arg: 'N', help: 'samples per shard at most' },
    'max-size': { type: 'string', arg: 'BYTES', help: 'bytes per shard at most' },
    strict: { type: 'boolean', help: 'fail on the first unreadable image instead of skipping it' },
    images: { type: 'string', arg: 'DIR', help: 'captions: directory the image paths are relative to' },
    'image-column': { type: 'string', arg: 'C', help: 'captions: column of the image path' },
    'caption-column': { type: 'string', arg: 'C', help: 'captions: column of the caption' },
  },
  positionals: true,
} satisfies CommandSpec;

function positiveNumber(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

if (isMain(import.meta))
  await runCommand(import.meta, command, async ({ args: { values, positionals } }) => {
    const [mode, input, pattern] = positionals;
    if (!mode || !input || !pattern || positionals.length > 3)
      throw new UsageError('expected folder|captions, an input and an OUT_PATTERN (see --help)');
    if (mode !== 'folder' && mode !== 'captions')
      throw new UsageError(`the first argument must be folder or captions, got "${mode}"`);
    const ctx = createContext();
    const common = {
      pattern,
      maxCount: positiveNumber('max-count', values['max-count']),
      maxSize: positiveNumber('max-size', values['max-size']),
      strict: values.strict === true,
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
              images: values.images as string | undefined,
              imageColumn: values['image-column'] as string | undefined,
              captionColumn: values['caption-column'] as string | undefined,
            });
      process.stdout.write(
        JSON.stringify({ shards: result.shards, samples: result.samples, seconds: (Date.now() - started) / 1000 }) +
          '\n',
      );
    } finally {
      process.stderr.write(ctx.counters.format() + '\n');
    }
  });
