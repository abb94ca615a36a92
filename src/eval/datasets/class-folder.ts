// A classification set stored as one sub-folder per class (ImageFolder layout): root/<class>/<image>.
// Classes are the sub-folder names sorted; images within a class sorted by name. Items name their file; the
// evaluation data path reads it (an unreadable file is skipped and counted there, not fatal).
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClassificationDataset } from './types.ts';

const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|gif|tiff?|bmp)$/i;

export async function classFolderDataset(root: string, name = root): Promise<ClassificationDataset> {
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory())
    throw new Error(`class-folder dataset: ${root} is not a directory (expected one sub-folder per class)`);
  const classes = (await readdir(root, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  if (classes.length === 0) throw new Error(`class-folder dataset: ${root} has no class sub-folders`);
  const files: Array<{ path: string; label: number; key: string }> = [];
  for (const [label, cls] of classes.entries()) {
    const names = (await readdir(join(root, cls))).filter((f) => IMAGE_EXTENSIONS.test(f)).sort();
    for (const f of names) files.push({ path: join(root, cls, f), label, key: `${cls}/${f}` });
  }
  return {
    name,
    classes,
    size: files.length,
    async *items() {
      for (const f of files)
        yield { key: f.key, label: f.label, source: f.path, image: { kind: 'file', path: f.path } };
    },
  };
}
