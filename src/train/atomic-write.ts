// Crash-safe directory output: files are written into a temporary directory beside the final one and fsync'ed, the
// directory is renamed to its final name and the parent fsync'ed, so a reader (or a resumed run after SIGKILL or a
// power cut) sees either the old complete version or the new complete version, never a part. Single files the same
// way: writeFileAtomic (temporary file beside the final one, fsync, rename, fsync of the directory).
import { open, rename, mkdir, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** fsync a directory so a rename inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write `chunks` to `path` and fsync the file (no rename). */
export async function writeAndSync(path: string, chunks: Array<Uint8Array>): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Atomically replace `path` with `chunks` (temp file + fsync + rename + fsync dir). */
export async function writeFileAtomic(path: string, chunks: Uint8Array | Array<Uint8Array>): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  try {
    await writeAndSync(tmp, Array.isArray(chunks) ? chunks : [chunks]);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Atomically publish a directory: `fill(tmpDir)` writes its files (each must be fsync'ed, e.g. with
 * writeAndSync), then the temp directory is fsync'ed and renamed to `finalDir`, and the parent is fsync'ed.
 * An existing `finalDir` (e.g. a checkpoint of the same step from a trajectory abandoned by a rollback) is
 * replaced: it is first renamed aside, so at every instant one complete version exists under a known name.
 */
export async function publishDirAtomic(finalDir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(finalDir);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${basename(finalDir)}-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  try {
    await fill(tmp);
    await fsyncDir(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  let aside: string | undefined;
  try {
    await rename(tmp, finalDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    aside = join(parent, `.old-${basename(finalDir)}-${process.pid}-${Date.now()}`);
    await rename(finalDir, aside);
    await rename(tmp, finalDir);
  }
  await fsyncDir(parent);
  if (aside) await rm(aside, { recursive: true, force: true });
}

/**
 * Remove a published directory so that no reader ever sees it half-deleted: it is renamed aside first (one atomic
 * step: the complete version disappears from its known name), then deleted; a crash mid-delete leaves only the
 * hidden `.old-*` name, which pruning clears later.
 */
export async function removeDirAtomic(dir: string): Promise<void> {
  const aside = join(dirname(dir), `.old-${basename(dir)}-${process.pid}-${Date.now()}`);
  try {
    await rename(dir, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await fsyncDir(dirname(dir));
  await rm(aside, { recursive: true, force: true });
}
