// Source stage: the lines of a (possibly huge, possibly compressed) text file, in constant memory,
// each with its input position, restricted to one part of the job (see src/yfcc/part.ts).
//   path.bz2  -> `lbzip2 -dc` (parallel; or `bzip2 -dc` when lbzip2 is not installed) child process
//                (decompressor 'system', default: measured faster than the JS unbzip2-stream on this
//                machine, see bench/yfcc-clean.ts) or unbzip2-stream ('js', also used when neither
//                lbzip2 nor bzip2 is installed)
//   path.gz   -> zlib gunzip
//   pipe:CMD  -> stdout of `sh -c CMD` (e.g. pipe:lbzip2 -dc yfcc100m_dataset.bz2)
//   other     -> plain file; parts are byte ranges (pos = byte offset of the line)
// For compressed/piped input pos = line index, and parts are round-robin blocks of lines.
// Lines are UTF-8; a line with bytes that are not is decoded by src/yfcc/decode-text.ts (lone bytes repaired as
// Windows-1252, broken sequences to U+FFFD) and counted as 'yfcc.<stage>.note.non-utf8-repaired' /
// 'non-utf8-undecodable'.
import { createReadStream, statSync, existsSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import unbzip2 from 'unbzip2-stream';
import type { StageContext } from '../core/stage.ts';
import { byteRange, lineInPart, type Part } from '../../src/yfcc/part.ts';
import { decodeBytes, REPLACEMENT_CHARACTER, type DecodeTally } from '../../src/yfcc/decode-text.ts';

export interface ReadLinesOptions {
  path: string;
  part?: Part;
  /** Lines per round-robin block for non-seekable input (default 100,000). */
  blockLines?: number;
  /** 'lines' forces round-robin line blocks (pos = line index) even for a plain file. */
  split?: 'auto' | 'lines';
  decompressor?: 'system' | 'js';
  /** Counter stage name (default 'read'); null counts no rows. */
  stage?: string | null;
  /** Stage name of the non-UTF-8 notes (default: `stage`, else 'read'). */
  noteStage?: string;
}

export interface Line {
  pos: number;
  line: string;
}

let bzip2Command: string | null | undefined;
/** lbzip2 (parallel) when it is on PATH, else bzip2, else null (then the JS decoder is used). */
export function systemBzip2(): string | null {
  const onPath = (name: string) =>
    (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));
  bzip2Command ??= onPath('lbzip2') ? 'lbzip2' : onPath('bzip2') ? 'bzip2' : null;
  return bzip2Command;
}

interface Input {
  stream: Readable;
  seekable: boolean;
  close: () => void /** For child processes: resolves with an error message if it failed. */;
  failure?: Promise<string | undefined>;
}

/** Resolves with a one-line message (including the child's last stderr line) when the child fails. */
function childFailure(child: ReturnType<typeof spawn>, what: string): Promise<string | undefined> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  return new Promise((resolve) => {
    child.on('error', (e) => resolve(`${what}: ${e.message}`));
    child.on('close', (code, signal) => {
      const last = stderr.trim().split('\n').at(-1);
      resolve(
        code === 0
          ? undefined
          : `${what} failed (${signal ?? `exit code ${code}`}${last ? `: ${last}` : ''}); the input is truncated or corrupt`,
      );
    });
  });
}

function openInput(path: string, decompressor: 'system' | 'js', start: number, forceLines: boolean): Input {
  if (path.startsWith('pipe:')) {
    // Own process group, so closing early stops the whole command line (sh and what it started).
    const child = spawn('sh', ['-c', path.slice(5)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return {
      stream: child.stdout!,
      seekable: false,
      failure: childFailure(child, `pipe command ${JSON.stringify(path.slice(5))}`),
      close: () => {
        if (child.exitCode === null && child.pid) {
          try {
            process.kill(-child.pid);
          } catch {
            /* already gone */
          }
        }
      },
    };
  }
  if (path.endsWith('.bz2')) {
    const command = decompressor === 'system' ? systemBzip2() : null;
    if (command) {
      const child = spawn(command, ['-dc', path], { stdio: ['ignore', 'pipe', 'pipe'] });
      return {
        stream: child.stdout!,
        seekable: false,
        failure: childFailure(child, `${command} -dc ${path}`),
        close: () => {
          if (child.exitCode === null) child.kill();
        },
      };
    }
    // unbzip2-stream is an old-style `through` stream: bridge it into a PassThrough (async iterable),
    // forwarding errors from the file and the decoder.
    const file = createReadStream(path);
    const decoder = unbzip2();
    const out = new PassThrough();
    file.on('error', (e) => out.destroy(e));
    decoder.on('error', (e: Error) => out.destroy(new Error(`${path}: bzip2 decoding failed: ${e.message}`)));
    file.pipe(decoder).pipe(out);
    return {
      stream: out,
      seekable: false,
      close: () => {
        file.destroy();
        out.destroy();
      },
    };
  }
  if (path.endsWith('.gz')) {
    const file = createReadStream(path);
    const gunzip = createGunzip();
    file.on('error', (e) => gunzip.destroy(e));
    return {
      stream: file.pipe(gunzip),
      seekable: false,
      close: () => {
        file.destroy();
        gunzip.destroy();
      },
    };
  }
  const file = createReadStream(path, { start, highWaterMark: 1 << 20 });
  return { stream: file, seekable: !forceLines, close: () => file.destroy() };
}

/** The text of bytes [start, end) of `buf`: UTF-8, or repaired (and counted) when they are not valid UTF-8. */
function decodeLine(buf: Buffer, start: number, end: number, note: (name: string) => void): string {
  const text = buf.toString('utf8', start, end);
  if (text.indexOf(REPLACEMENT_CHARACTER) < 0) return text;
  const bytes = buf.subarray(start, end);
  if (isUtf8(bytes)) return text; // a replacement character written in the source
  const tally: DecodeTally = { repaired: 0, undecodable: 0 };
  const repaired = decodeBytes(bytes, tally);
  if (tally.repaired > 0) note('non-utf8-repaired');
  if (tally.undecodable > 0) note('non-utf8-undecodable');
  return repaired;
}

export async function* readLines(options: ReadLinesOptions, ctx: StageContext): AsyncGenerator<Line> {
  const part = options.part ?? { index: 0, count: 1 };
  const blockLines = options.blockLines ?? 100_000;
  const stage = options.stage === undefined ? 'read' : options.stage;
  if (!options.path.startsWith('pipe:') && !existsSync(options.path)) throw new Error(`${options.path}: no such file`);
  const seekable = options.split !== 'lines' && !options.path.startsWith('pipe:') && !/\.(bz2|gz)$/.test(options.path);
  let start = 0,
    end = Infinity;
  if (seekable) {
    const size = statSync(options.path).size;
    ({ start, end } = byteRange(size, part));
    if (start >= end) return;
  }
  // A part that does not start at 0 begins one byte early and skips to the first newline, so a line
  // starting exactly at `start` belongs to this part and a line straddling it to the previous one.
  const readFrom = seekable && start > 0 ? start - 1 : 0;
  const input = openInput(options.path, options.decompressor ?? 'system', readFrom, options.split === 'lines');
  let offset = readFrom; // byte offset of `carry[0]`
  let lineIndex = 0;
  let skipFirst = seekable && start > 0;
  let carry: Buffer | null = null;
  const outLines = stage === null ? undefined : `yfcc.${stage}.out`;
  const inLines = stage === null ? undefined : `yfcc.${stage}.in`;
  const noteStage = options.noteStage ?? stage ?? 'read';
  const note = (name: string) => ctx.counters.inc(`yfcc.${noteStage}.note.${name}`);
  // Cancelling must not wait for the next chunk (a stalled pipe command may never send one): close the input at once,
  // which stops the decompressor or pipe command and ends the loop below.
  const onAbort = () => input.close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of input.stream as AsyncIterable<Buffer>) {
      const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      let s = 0;
      while (true) {
        const nl = buf.indexOf(10, s);
        if (nl < 0) break;
        const lineStart = offset + s;
        if (skipFirst) {
          skipFirst = false;
          s = nl + 1;
          continue;
        }
        if (seekable && lineStart >= end) return;
        const pos = seekable ? lineStart : lineIndex;
        const mine = seekable || part.count === 1 || lineInPart(lineIndex, part, blockLines);
        lineIndex++;
        if (mine) {
          if (outLines) {
            ctx.counters.inc(inLines!);
            ctx.counters.inc(outLines);
          }
          yield { pos, line: decodeLine(buf, s, nl, note) };
        }
        s = nl + 1;
      }
      offset += s;
      carry = s < buf.length ? buf.subarray(s) : null;
      if (carry && carry.length > 64 << 20)
        throw new Error(`${options.path}: a line longer than 64 MiB at input position ${offset}; is this a text file?`);
    }
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const failed = await input.failure;
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (failed) throw new Error(failed);
    if (carry && carry.length > 0 && !skipFirst) {
      const lineStart = offset;
      if (seekable && lineStart >= end) return;
      const mine = seekable || part.count === 1 || lineInPart(lineIndex, part, blockLines);
      if (mine) {
        if (outLines) {
          ctx.counters.inc(inLines!);
          ctx.counters.inc(outLines);
        }
        yield { pos: seekable ? lineStart : lineIndex, line: decodeLine(carry, 0, carry.length, note) };
      }
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    input.close();
  }
}
