// An image folder with one sub-folder per class -> image entries with their class index
// (classes = sub-folder names in sorted order, like torchvision's ImageFolder).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveRng } from '../../src/rng.ts';
import { imageExtension, keyForImagePath } from '../../src/webdataset/image-files.ts';
import type { ImageEntry } from '../image/load-image-files.ts';

export interface ClassFolderListing {
  classes: string[];
  entries: ImageEntry[];
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** List the folder; `shuffleSeed` permutes the entries (so shards mix classes), otherwise class then file order. */
export async function listClassFolder(
  root: string,
  options: { shuffleSeed?: number } = {},
): Promise<ClassFolderListing> {
  const dirs = (await readdir(root, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort(byCodePoint);
  if (dirs.length === 0) throw new Error(`${root}: no class sub-folders found (expected one folder per class)`);
  const entries: ImageEntry[] = [];
  for (const [cls, name] of dirs.entries()) {
    const files = (await readdir(join(root, name), { withFileTypes: true }))
      .filter((f) => f.isFile())
      .map((f) => f.name)
      .sort(byCodePoint);
    for (const file of files) {
      const ext = imageExtension(file);
      if (!ext) continue;
      entries.push({
        key: keyForImagePath(`${name}/${file}`),
        path: join(root, name, file),
        imageExtension: ext,
        members: { cls: String(cls) },
      });
    }
  }
  if (options.shuffleSeed !== undefined) deriveRng(options.shuffleSeed, 'class-folder').shuffle(entries);
  return { classes: dirs, entries };
}
