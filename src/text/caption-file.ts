// Reading a caption corpus: one caption per line, a Flickr8k-style "image,caption" CSV (caption column),
// or the `.txt` members of webdataset tar shards.
import { createReadStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';

/** Captions of a text file (same rule as reference/clip_tokenizer_reference.py read_lines). */
export function readCaptionLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] === 'image,caption') {
    return lines
      .slice(1)
      .filter((l) => l.includes(','))
      .map((l) => l.slice(l.indexOf(',') + 1));
  }
  return lines;
}

/** Lines of every `.<ext>` member of the given tar files (webdataset shards), in archive order. */
export async function readTarCaptions(tarPaths: readonly string[], ext = 'txt'): Promise<string[]> {
  const out: string[] = [];
  for (const path of tarPaths) {
    const extract = tarStream.extract();
    const done = (async () => {
      for await (const entry of extract) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        if (entry.header.type === 'file' && entry.header.name.toLowerCase().endsWith('.' + ext)) {
          for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) if (line.trim() !== '') out.push(line);
        }
      }
    })();
    await pipeline(createReadStream(path), extract).catch((err: Error) => {
      throw new Error(`cannot read captions from ${path}: ${err.message}`);
    });
    await done;
  }
  return out;
}
