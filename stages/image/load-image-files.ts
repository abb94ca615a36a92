// Image entries (a key, a file path and extra text members) -> webdataset samples with the file's bytes
// unchanged under its image extension. Reads up to `concurrency` files at once, in order. A missing or
// unreadable file warns once, is counted (`images_missing`) and skipped; `strict` throws instead.
import { readFile } from 'node:fs/promises';
import type { Stage } from '../core/stage.ts';
import { mapConcurrent } from '../core/map-concurrent.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';

export interface ImageEntry {
  key: string;
  path: string;
  /** Member extension for the image bytes, e.g. 'jpg'. */
  imageExtension: string;
  /** Extra members (already encoded as text), e.g. { cls: '3' } or { txt, json }. */
  members: Record<string, string>;
}

export function loadImageFiles(options: { concurrency?: number; strict?: boolean } = {}): Stage<ImageEntry, WdsSample> {
  const concurrency = options.concurrency ?? 8;
  return async function* loadImageFilesStage(source, ctx) {
    const load = mapConcurrent(concurrency, async (entry: ImageEntry): Promise<WdsSample | undefined> => {
      try {
        const bytes = await readFile(entry.path);
        return {
          __key__: entry.key,
          __url__: entry.path,
          [entry.imageExtension]: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          ...entry.members,
        };
      } catch (error) {
        const message = `cannot read image ${entry.path}: ${(error as Error).message}`;
        if (options.strict) throw new Error(message, { cause: error });
        ctx.counters.inc('images_missing');
        ctx.counters.warnOnce('load-image-files', `${message} (skipping; further failures are only counted)`);
        return undefined;
      }
    });
    for await (const sample of load(source, ctx)) if (sample) yield sample;
  };
}
