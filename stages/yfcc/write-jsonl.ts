// Sink: write rows as JSON lines to `path` atomically (`path.tmp-<pid>` renamed when complete), so a killed job never
// leaves a file that looks finished; on an error or an abort the temporary file is removed. Resolves with the number of
// rows.
import { createWriteStream } from 'node:fs';
import { rename, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { Sink } from '../core/stage.ts';
import { tempPath } from '../../src/yfcc/temp-path.ts';

export function writeJsonl<A>(path: string): Sink<A, number> {
  return async (source) => {
    await mkdir(dirname(path), { recursive: true });
    const tmp = tempPath(path);
    const out = createWriteStream(tmp);
    let n = 0;
    try {
      let buffer = '';
      for await (const row of source) {
        buffer += JSON.stringify(row) + '\n';
        n++;
        if (buffer.length > 1 << 16) {
          if (!out.write(buffer)) await once(out, 'drain');
          buffer = '';
        }
      }
      out.end(buffer);
      await once(out, 'finish');
      await rename(tmp, path);
      return n;
    } catch (err) {
      out.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
  };
}
