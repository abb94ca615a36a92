// Loading a BPE merges file (`bpe_simple_vocab_16e6.txt.gz` format: a header line, then one "a b" merge per
// line, gzipped) from a path or an http(s) URL. URLs are downloaded once into a cache directory and checked
// against a sha256 (the known one for OpenAI's file, or one given explicitly).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

export const OPENAI_VOCAB_NAME = 'bpe_simple_vocab_16e6.txt.gz';
export const OPENAI_VOCAB_URL = 'https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz';
export const OPENAI_VOCAB_SHA256 = '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a';
/** OpenAI's header line; files starting with it use only the first OPENAI_MERGES merges. */
export const OPENAI_HEADER_PREFIX = '"bpe_simple_vocab_16e6.txt';
export const OPENAI_MERGES = 49152 - 256 - 2; // 48,894

const WHERE_TO_GET =
  `get ${OPENAI_VOCAB_NAME} (sha256 ${OPENAI_VOCAB_SHA256.slice(0, 12)}...) from ${OPENAI_VOCAB_URL} ` +
  `and pass --vocab PATH or set CLIP_BENCH_VOCAB`;

export interface MergesFile {
  header: string;
  merges: Array<[string, string]>;
  /** Where the file was read from. */
  source: string;
  /** Identity of the file's bytes (as stored, gzipped or not): what a checkpoint records of its vocabulary. */
  sha256: string;
  bytes: number;
}

/** Cache directory for downloaded vocab files: $CLIP_BENCH_CACHE or ~/.cache/clip-bench. */
export function cacheDir(): string {
  return process.env.CLIP_BENCH_CACHE ?? join(homedir(), '.cache', 'clip-bench');
}

/**
 * Where OpenAI's vocab is looked for when no path is given: $CLIP_BENCH_VOCAB, the download cache, then the
 * reference data directory next to the repository (../shared/data/clip); otherwise the official URL (downloaded
 * into the cache).
 */
export function defaultVocabLocation(): string {
  const env = process.env.CLIP_BENCH_VOCAB;
  if (env) return env;
  const candidates = [
    join(cacheDir(), OPENAI_VOCAB_NAME),
    fileURLToPath(new URL(`../../../shared/data/clip/${OPENAI_VOCAB_NAME}`, import.meta.url)),
  ];
  return candidates.find((p) => existsSync(p)) ?? OPENAI_VOCAB_URL;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Download `url` into the cache (once), verify its sha256 when known, and return the local path. */
export async function fetchToCache(url: string, expectedSha256?: string): Promise<string> {
  const name = basename(new URL(url).pathname) || 'vocab.txt.gz';
  const target = join(cacheDir(), name);
  const expected = expectedSha256 ?? (name === OPENAI_VOCAB_NAME ? OPENAI_VOCAB_SHA256 : undefined);
  if (existsSync(target)) {
    const digest = sha256(readFileSync(target));
    if (!expected || digest === expected) return target;
  }
  let bytes: Uint8Array;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw new Error(`cannot download vocab ${url} (${(err as Error).message}); ${WHERE_TO_GET}`);
  }
  const digest = sha256(bytes);
  if (expected && digest !== expected) {
    throw new Error(`vocab ${url} has sha256 ${digest}, expected ${expected}; ${WHERE_TO_GET}`);
  }
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target + '.part', bytes);
  renameSync(target + '.part', target);
  return target;
}

/**
 * Parse merges-file bytes (gzipped or plain). OpenAI's file (recognised by its header) is parsed only up to the
 * OPENAI_MERGES merges the tokenizer uses, unless `all` is set; other files are parsed whole.
 */
export function parseMergesFile(bytes: Uint8Array, source: string, options: { all?: boolean } = {}): MergesFile {
  const identity = { sha256: sha256(bytes), bytes: bytes.byteLength };
  const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (gzipped && !options.all && bytes.length > PREFIX_BYTES * 2) {
    // OpenAI's file: the merges in use sit in the first ~20% of the data; inflate only a prefix of the stream.
    const prefix = gunzipSync(bytes.subarray(0, PREFIX_BYTES), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const parsed = parseMergesText(new TextDecoder().decode(prefix), source, options, true);
    if (parsed) return { ...parsed, ...identity };
  }
  const text = new TextDecoder().decode(gzipped ? gunzipSync(bytes) : bytes);
  return { ...parseMergesText(text, source, options, false)!, ...identity };
}

const PREFIX_BYTES = 512 * 1024;

/** Parse merges text; with `partial`, returns undefined unless the limit was reached on complete lines. */
function parseMergesText(
  text: string,
  source: string,
  options: { all?: boolean },
  partial: boolean,
): Omit<MergesFile, 'sha256' | 'bytes'> | undefined {
  let end = text.indexOf('\n');
  if (end < 0) end = text.length;
  const header = text.slice(0, end);
  const limit = header.startsWith(OPENAI_HEADER_PREFIX) && !options.all ? OPENAI_MERGES : Infinity;
  const merges: Array<[string, string]> = [];
  let lineNo = 1;
  while (end < text.length && merges.length < limit) {
    const start = end + 1;
    end = text.indexOf('\n', start);
    if (end < 0) {
      if (partial) return undefined;
      end = text.length;
    }
    lineNo++;
    if (end === start) continue;
    const space = text.indexOf(' ', start);
    if (
      space < 0 ||
      space >= end - 1 ||
      space === start ||
      (text.indexOf(' ', space + 1) < end && text.indexOf(' ', space + 1) >= 0)
    ) {
      const line = text.slice(start, end);
      throw new Error(
        `bad merge on line ${lineNo} of ${source}: ${JSON.stringify(line.slice(0, 60))} (expected "a b")`,
      );
    }
    merges.push([text.slice(start, space), text.slice(space + 1, end)]);
  }
  if (partial && merges.length < limit) return undefined;
  return { header, merges, source };
}

/** Read a merges file from a path or http(s) URL (default: OpenAI's, see defaultVocabLocation). */
export async function readMergesFile(location?: string, expectedSha256?: string): Promise<MergesFile> {
  const where = location ?? defaultVocabLocation();
  let path = where;
  if (/^https?:\/\//i.test(where)) path = await fetchToCache(where, expectedSha256);
  else if (where.startsWith('file:')) path = fileURLToPath(where);
  if (!existsSync(path)) throw new Error(`vocab file not found: ${path}; ${WHERE_TO_GET}`);
  const file = parseMergesFile(readFileSync(path), path);
  if (expectedSha256 && file.sha256 !== expectedSha256) {
    throw new Error(`vocab ${path} has sha256 ${file.sha256}, expected ${expectedSha256}`);
  }
  return file;
}

/** Serialise merges in the same format (header line + "a b" lines), gzipped. */
export function formatMergesFile(header: string, merges: Array<[string, string]>): string {
  return [header, ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';
}
