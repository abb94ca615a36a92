// Reading a caption corpus: one caption per line, or a Flickr8k-style "image,caption" CSV (caption column).
import { readFileSync } from 'node:fs';

/** Captions of a text file (same rule as reference/clip_tokenizer_reference.py read_lines). */
export function readCaptionLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] === 'image,caption') {
    return lines.slice(1).filter((l) => l.includes(',')).map((l) => l.slice(l.indexOf(',') + 1));
  }
  return lines;
}
