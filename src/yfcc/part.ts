// Splitting one job into N independent, idempotent parts over its input.
//  - plain (uncompressed) files: contiguous byte ranges; a part owns the lines that START inside
//    [floor(i*size/N), floor((i+1)*size/N)), so parts need no coordination and seek directly.
//  - compressed or piped input (not seekable): blocks of `blockLines` consecutive lines dealt
//    round-robin, block b -> part b mod N; every part decompresses the whole stream but parses only
//    its blocks.
// Either way the union of the parts is exactly the input, and each row keeps its input position
// (`pos`: byte offset, or line index) so part outputs can be merged back into input order.

export interface Part {
  index: number;
  count: number;
}

export function parsePart(spec: string): Part {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new Error(`--part: expected i/N (e.g. 0/4), got ${JSON.stringify(spec)}`);
  const index = Number(m[1]),
    count = Number(m[2]);
  if (!(count >= 1 && index < count)) throw new Error(`--part: need 0 <= i < N, got ${spec}`);
  return { index, count };
}

export function byteRange(size: number, part: Part): { start: number; end: number } {
  return {
    start: Math.floor((part.index * size) / part.count),
    end: Math.floor(((part.index + 1) * size) / part.count),
  };
}

export function lineInPart(lineIndex: number, part: Part, blockLines: number): boolean {
  return Math.floor(lineIndex / blockLines) % part.count === part.index;
}

export function partName(part: Part): string {
  return `part-${String(part.index).padStart(5, '0')}-of-${String(part.count).padStart(5, '0')}`;
}
