// Which checkpoint a run continues from: `checkpoint.resume` = 'latest' takes the newest checkpoint of the run
// directory that reads back intact (a corrupt one is reported by file name and the previous one is tried), a
// directory takes exactly that one (a corrupt one is an error naming the file), '' starts a new run.
import { join } from 'node:path';
import {
  CheckpointCorruptError,
  listCheckpoints,
  loadCheckpoint,
  type LoadedCheckpoint,
} from '../src/train/checkpoint-format.ts';

/** The newest checkpoint under `root` that verifies; corrupt ones are reported through `warn` and skipped. */
export async function newestIntactCheckpoint(
  root: string,
  warn: (line: string) => void,
): Promise<LoadedCheckpoint | undefined> {
  for (const c of (await listCheckpoints(root)).reverse()) {
    try {
      return await loadCheckpoint(c.dir);
    } catch (err) {
      if (!(err instanceof CheckpointCorruptError)) throw err;
      warn(`${err.message}; trying the checkpoint before it`);
    }
  }
  return undefined;
}

/** The checkpoint `checkpoint.resume` names, loaded (undefined: start fresh). */
export async function checkpointToResume(
  resume: string,
  runDir: string,
  warn: (line: string) => void,
): Promise<LoadedCheckpoint | undefined> {
  if (!resume) return undefined;
  if (resume === 'latest') return newestIntactCheckpoint(join(runDir, 'checkpoints'), warn);
  return loadCheckpoint(resume);
}
