// Image datasets -> webdataset shards (image bytes copied unchanged, never re-encoded):
//   makeClassFolderShards: an image folder with one sub-folder per class -> <img> + cls shards (cls = index of the
//             class in sorted folder order); classnames.txt (one class per line) is written next to the shards.
//   makeCaptionShards: a CSV/TSV table of image path + caption (header row, several rows per image allowed)
//             -> <img> + txt (captions joined by "\n") + json ({"image", "captions": [...]}) shards.
// The command line is pipelines/make-shards.ts.
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
