// Remove temporary files (`*.tmp-<pid>`, src/yfcc/temp-path.ts) left in a directory by processes that are gone,
// e.g. workers killed with the machine or by `kill -9`. A file whose writer is still running (here) is kept.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempFileWriter } from '../../src/yfcc/temp-path.ts';

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

/** Remove the stale temporary files of `dir` whose name passes `belongs`; resolves with their names. */
export async function removeStaleTempFiles(
  dir: string,
  belongs: (name: string) => boolean = () => true,
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = tempFileWriter(name);
    if (pid === undefined || pid === process.pid || !belongs(name) || running(pid)) continue;
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
