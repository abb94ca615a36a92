// Open a shard URL as a byte stream: a local path or file: URL, an http(s) URL (timeouts, retries with
// exponential backoff on connection errors, timeouts, 408/429/5xx; redirects followed), or
// `pipe:COMMAND` (stdout of a shell command, e.g. `pipe:curl -s URL` or `pipe:aws s3 cp s3://... -`;
// a non-zero exit status fails the stream with the command's stderr tail).
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export interface OpenShardOptions {
  signal?: AbortSignal;
  /** http(s): fail when connecting, waiting for headers or waiting for body bytes takes longer (default 30 s). */
  timeoutMs?: number;
  /** http(s): retries after the first attempt (default 3). */
  retries?: number;
  /** http(s): first backoff delay, doubled per retry (default 500 ms). */
  backoffMs?: number;
}

export type ShardSourceKind = 'file' | 'http' | 'pipe';

export function shardSourceKind(url: string): ShardSourceKind {
  if (url.startsWith('pipe:')) return 'pipe';
  if (/^https?:\/\//i.test(url)) return 'http';
  return 'file';
}

/** Open `url` for reading; rejects when the source cannot be opened (after retries for http). */
export async function openShard(url: string, options: OpenShardOptions = {}): Promise<Readable> {
  switch (shardSourceKind(url)) {
    case 'pipe':
      return openPipe(url.slice('pipe:'.length), options.signal);
    case 'http':
      return openHttp(url, options);
    case 'file': {
      const path = url.startsWith('file:') ? fileURLToPath(url) : url;
      const handle = await open(path, 'r');
      return handle.createReadStream({ highWaterMark: 1 << 20 });
    }
  }
}

function openPipe(command: string, signal?: AbortSignal): Readable {
  // Own process group, so stopping the reader stops the whole command (e.g. `curl ... | zcat`).
  const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill();
    }
  };
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-500);
  });
  child.stdout.pipe(out, { end: false });
  const onAbort = stop;
  signal?.addEventListener('abort', onAbort, { once: true });
  child.on('error', (err) => out.destroy(new Error(`pipe:${command}: ${err.message}`)));
  child.on('close', (code, sig) => {
    signal?.removeEventListener('abort', onAbort);
    if (code === 0) out.end();
    else if (!out.destroyed)
      out.destroy(
        new Error(
          `pipe:${command} exited with ${code ?? sig}${stderr.trim() ? ': ' + stderr.trim().split('\n').pop() : ''}`,
        ),
      );
  });
  // The reader stopped early: stop the command too.
  out.on('close', stop);
  return out;
}

class HttpStatusError extends Error {
  readonly status: number;
  constructor(url: string, status: number) {
    super(`HTTP ${status} for ${url}`);
    this.status = status;
  }
}

const retryableStatus = (status: number) => status === 408 || status === 429 || status >= 500;

async function openHttp(url: string, options: OpenShardOptions): Promise<Readable> {
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 500;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1), undefined, { signal: options.signal });
    try {
      return await requestOnce(url, options, 5);
    } catch (error) {
      lastError = error as Error;
      if (options.signal?.aborted) throw error;
      if (error instanceof HttpStatusError && !retryableStatus(error.status)) break;
    }
  }
  const tries = lastError instanceof HttpStatusError && !retryableStatus(lastError.status) ? 1 : retries + 1;
  throw new Error(`${lastError?.message ?? 'request failed'} (after ${tries} attempt${tries === 1 ? '' : 's'})`, {
    cause: lastError,
  });
}

function requestOnce(url: string, options: OpenShardOptions, redirects: number): Promise<Readable> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    let response: http.IncomingMessage | undefined;
    const req = client.get(url, { signal: options.signal, timeout: timeoutMs }, (res) => {
      response = res;
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects <= 0) {
          reject(new Error(`too many redirects for ${url}`));
          return;
        }
        requestOnce(new URL(res.headers.location, url).href, options, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new HttpStatusError(url, status));
        return;
      }
      // Body idle timeout: the socket timeout keeps applying while the body streams.
      resolve(res);
    });
    req.on('timeout', () => {
      const error = new Error(
        `timeout after ${timeoutMs} ms ${response ? 'waiting for body bytes' : 'waiting for a response'} from ${url}`,
      );
      if (response) response.destroy(error); // the body stalled: fail the stream the reader is consuming
      req.destroy(error);
    });
    req.on('error', (err) => reject(err.message.includes(url) ? err : new Error(`${err.message} for ${url}`)));
  });
}
