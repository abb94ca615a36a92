// Fetch each row's image bytes, from a local copy (path template, e.g. the multimedia-commons layout
// data/images/<hash[0:3]>/<hash[3:6]>/<hash>.jpg) or over HTTP(S), `concurrency` at a time, in order.
// HTTP: per-attempt timeout, retries with exponential backoff on network errors, timeouts, 5xx and 429
// (never on other 4xx), redirects followed (fetch's limit of 20), non-image Content-Type and bodies over
// maxBytes rejected, an optional global rate limit (requests/s). Failures are passed on with
// status 'failed_to_download', an error message, a reason (the message without row-specific details, e.g.
// "HTTP 503 Service Unavailable") and whether a rerun may succeed (retryable: network errors, timeouts, 5xx, 429, a
// local file that exists but cannot be read); they are never fatal. A row that succeeded in an earlier run's shard of
// its slice (item.reuse, set when a slice that was not final is redone) is taken from there, not fetched again.
import { readFile } from 'node:fs/promises';
import type { Stage } from '../core/stage.ts';
import { mapConcurrent } from '../core/map-concurrent.ts';
import { expandImagePath } from '../../src/yfcc/image-path.ts';
import { RateLimiter } from '../../src/yfcc/rate-limiter.ts';
import type { FetchItem } from '../../src/yfcc/fetch-item.ts';

export interface FetchImagesOptions {
  /** Local copy: a path template; when set, no download happens. */
  localTemplate?: string;
  concurrency?: number;
  timeoutMs?: number;
  retries?: number;
  /** First backoff delay; doubles on every retry (default 500 ms). */
  backoffMs?: number;
  /** Requests per second over all concurrent downloads (default unlimited). */
  rateLimit?: number;
  maxBytes?: number;
  userAgent?: string;
}

/** A row's download failed; `reason` groups failures, `retryable` says whether a rerun may succeed. */
class FetchFailure extends Error {
  readonly reason: string;
  readonly retryable: boolean;
  constructor(message: string, options: { reason?: string; retryable?: boolean } = {}) {
    super(message);
    this.reason = options.reason ?? message;
    this.retryable = options.retryable ?? false;
  }
}

async function readBody(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes)
    throw new FetchFailure(`body of ${declared} bytes exceeds the ${maxBytes}-byte limit`, {
      reason: `body exceeds the ${maxBytes}-byte limit`,
    });
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.byteLength;
    if (n > maxBytes) throw new FetchFailure(`body exceeds the ${maxBytes}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function fetchImages(options: FetchImagesOptions = {}): Stage<FetchItem, FetchItem> {
  const timeoutMs = options.timeoutMs ?? 10_000,
    retries = options.retries ?? 2,
    backoffMs = options.backoffMs ?? 500;
  const maxBytes = options.maxBytes ?? 32 << 20;
  const limiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  return (source, ctx) => {
    const download = async (url: string): Promise<{ bytes: Uint8Array; attempts: number }> => {
      let lastError = '';
      for (let attempt = 1; attempt <= retries + 1; attempt++) {
        if (attempt > 1) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 2)));
        if (ctx.signal.aborted) throw ctx.signal.reason;
        await limiter?.acquire(ctx.signal);
        try {
          const res = await fetch(url, {
            redirect: 'follow',
            signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
            headers: { 'user-agent': options.userAgent ?? 'clip-bench-yfcc/1' },
          });
          if (!res.ok) {
            await res.body?.cancel().catch(() => {});
            const msg = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
            if (res.status >= 500 || res.status === 429) {
              lastError = msg;
              ctx.counters.inc('yfcc.fetch.note.retryable-http');
              continue;
            }
            throw new FetchFailure(msg);
          }
          const type = res.headers.get('content-type') ?? '';
          if (type && !/^image\//i.test(type) && !/^application\/octet-stream/i.test(type)) {
            await res.body?.cancel().catch(() => {});
            throw new FetchFailure(`not an image (Content-Type ${type.split(';')[0]})`);
          }
          return { bytes: await readBody(res, maxBytes), attempts: attempt };
        } catch (err) {
          if (err instanceof FetchFailure) throw err;
          if (ctx.signal.aborted) throw ctx.signal.reason;
          const e = err as Error;
          lastError =
            e.name === 'TimeoutError'
              ? `timed out after ${timeoutMs} ms`
              : ((e as { cause?: Error }).cause?.message ?? e.message);
          ctx.counters.inc('yfcc.fetch.note.retry');
        }
      }
      throw new FetchFailure(`${lastError} (after ${retries + 1} attempts)`, { reason: lastError, retryable: true });
    };

    /** A success of an earlier run's shard of this slice, with the metadata it had then; false if unreadable. */
    const reuse = async (item: FetchItem): Promise<boolean> => {
      try {
        const { jpg, json } = await item.reuse!();
        item.bytes = jpg;
        item.source = json.source as string;
        item.attempts = json.attempts as number;
        item.width = json.width as number;
        item.height = json.height as number;
        item.format = json.original_format as string;
        item.sha256 = json.sha256 as string;
        item.dhash = json.dhash as string;
        item.reencoded = json.reencoded as boolean;
        item.reused = true;
        return true;
      } catch {
        return false; // the earlier shard changed or went away: fetch the row again
      } finally {
        item.reuse = undefined;
      }
    };

    return mapConcurrent<FetchItem, FetchItem>(options.concurrency ?? 16, async (item) => {
      ctx.counters.inc('yfcc.fetch.in');
      if (item.reuse && (await reuse(item))) {
        ctx.counters.inc('yfcc.fetch.note.reused-from-earlier-shard');
        ctx.counters.inc('yfcc.fetch.out');
        return item;
      }
      try {
        if (options.localTemplate) {
          const path = expandImagePath(options.localTemplate, { hash: item.input.hash, id: item.input.id });
          item.source = path;
          try {
            item.bytes = await readFile(path);
            item.attempts = 1;
          } catch (err) {
            const e = err as NodeJS.ErrnoException;
            if (e.code === 'ENOENT') throw new FetchFailure('not in the local copy');
            throw new FetchFailure(e.message, {
              reason: `cannot read the local copy (${e.code ?? 'error'})`,
              retryable: true,
            });
          }
        } else {
          if (!item.input.url) throw new FetchFailure('no url');
          item.source = item.input.url;
          const r = await download(item.input.url);
          item.bytes = r.bytes;
          item.attempts = r.attempts;
        }
        ctx.counters.inc('yfcc.fetch.out');
      } catch (err) {
        if (!(err instanceof FetchFailure)) throw err; // aborts and bugs propagate
        item.status = 'failed_to_download';
        item.error = err.message;
        item.reason = err.reason;
        item.retryable = err.retryable;
        ctx.counters.inc('yfcc.fetch.drop.failed_to_download');
      }
      return item;
    })(source, ctx);
  };
}
