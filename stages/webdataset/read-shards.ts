// The webdataset source: shard spec -> samples, in a deterministic order for a given seed and epoch.
//   - shard order is permuted per epoch (and per pass) with the seed, identically on every rank, then
//     split across ranks and workers (disjoint, covering; an error when a rank/worker would get none);
//   - `epochs` counts epochs from 0 (the reader stops after epoch `epochs - 1`); 'endless' never stops;
//   - `resampled` draws shards with replacement per rank/worker instead (webdataset ResampledShards);
//   - `samplesPerEpoch` makes virtual epochs: epoch e reads passes (e,0), (e,1), ... until it has
//     yielded that many samples (so an epoch can be shorter or longer than one pass over the shards);
//   - `reader.cursor()` snapshots the position after the last yielded sample; passing it back as
//     `resume` continues exactly there (the extra fields let it seek to the shard directly; with only
//     {epoch, samplesConsumed} the skipped samples are read and discarded);
//   - bad input (unreachable URL, truncated/garbage tar, unreadable member, empty shard) warns once per
//     shard, is counted in ctx.counters and skipped; `strict: true` throws a ShardReadError naming the
//     shard and byte offset instead.
// Counters: shards_read, shards_failed, shards_empty, samples_read, samples_dropped, members_failed,
// duplicate_extension_splits, bytes_read.
import type { StageContext } from '../core/stage.ts';
import { createContext, throwIfAborted } from '../core/stage.ts';
import { openShard, type OpenShardOptions } from './open-shard.ts';
import { tarMembers } from './tar-members.ts';
import { groupSamples } from './group-samples.ts';
import type { WdsSample } from '../../src/webdataset/sample.ts';
import { expandShardSpec } from '../../src/webdataset/shard-spec.ts';
import { passShardOrder, resampledShards, splitShards, type SplitOptions } from '../../src/webdataset/shard-order.ts';
import { ShardReadError } from '../../src/webdataset/shard-error.ts';
import type { TarMember } from '../../src/webdataset/group-samples.ts';

export interface ReaderCursor {
  /** Epoch of the last yielded sample (or the next epoch, once one is complete). */
  epoch: number;
  /** Samples yielded so far in that epoch. */
  samplesConsumed: number;
  /** Pass within the epoch (always 0 without samplesPerEpoch). */
  pass?: number;
  /** Index of the current shard in this reader's list for that pass. */
  shard?: number;
  /** Samples read (yielded or skipped) from the current shard. */
  samplesInShard?: number;
}

export interface ShardReport {
  url: string;
  samples: number;
  bytes: number;
  /** The error that stopped the shard, or member errors in it. */
  errors: ShardReadError[];
}

export interface ReadShardsOptions extends SplitOptions {
  /** Shard spec(s): brace patterns, `::` lists, local paths, http(s) URLs, pipe:COMMAND. */
  shards: string | string[];
  /** Shuffle the shard order per epoch with this seed (undefined: keep the given order). */
  seed?: number;
  /** First epoch (default 0). */
  epoch?: number;
  /** Total number of epochs, counted from 0, or 'endless' (default: just the first epoch). */
  epochs?: number | 'endless';
  /** Virtual epoch size, in samples yielded by this reader. */
  samplesPerEpoch?: number;
  /**
   * Draw shards with replacement instead of permuting them (webdataset ResampledShards): each pass of
   * each rank/worker draws as many shards as its split would hold. Needs `seed`; usually with
   * samplesPerEpoch and epochs: 'endless'.
   */
  resampled?: boolean;
  /** Largest tar member read into memory (default 1 GiB); a larger one fails the shard. */
  maxMemberBytes?: number;
  /** Throw on the first bad shard or member instead of warning and continuing. */
  strict?: boolean;
  /** Continue from a cursor() snapshot. */
  resume?: ReaderCursor;
  /** Counters and abort signal (default: a fresh context). */
  ctx?: StageContext;
  /** http(s) timeouts and retries. */
  http?: Omit<OpenShardOptions, 'signal'>;
  /** Called when a shard is finished (read completely, failed or abandoned). */
  onShardDone?: (report: ShardReport) => void;
}

export interface ShardReader extends AsyncGenerator<WdsSample, void, undefined> {
  /** Position after the last yielded sample; pass it back as `resume` to continue exactly there. */
  cursor(): Required<ReaderCursor>;
  /** The context whose counters this reader updates. */
  readonly ctx: StageContext;
}

export function readShards(options: ReadShardsOptions): ShardReader {
  const ctx = options.ctx ?? createContext();
  const urls = expandShardSpec(options.shards);
  if (urls.length === 0)
    throw new Error(`readShards: the shard spec ${JSON.stringify(options.shards)} names no shards`);
  const split: SplitOptions = {
    rank: options.rank,
    worldSize: options.worldSize,
    workerId: options.workerId,
    numWorkers: options.numWorkers,
  };
  // (splitShards below fails now, not at the first next(), when a rank/worker would get no shard.)
  const samplesPerEpoch = options.samplesPerEpoch;
  if (samplesPerEpoch !== undefined && !(Number.isInteger(samplesPerEpoch) && samplesPerEpoch >= 1)) {
    throw new RangeError(`readShards: samplesPerEpoch must be an integer >= 1, got ${samplesPerEpoch}`);
  }
  if (options.resampled && options.seed === undefined) throw new Error('readShards: resampled shards need a seed');
  const readers = (split.worldSize ?? 1) * (split.numWorkers ?? 1);
  const splitSize = options.resampled ? Math.max(1, Math.ceil(urls.length / readers)) : splitShards(urls, split).length;
  const firstEpoch = options.resume?.epoch ?? options.epoch ?? 0;
  const endEpoch = options.epochs === 'endless' ? Infinity : (options.epochs ?? firstEpoch + 1);
  const position: Required<ReaderCursor> = {
    epoch: firstEpoch,
    samplesConsumed: 0,
    pass: 0,
    shard: 0,
    samplesInShard: 0,
  };

  async function* generate(): AsyncGenerator<WdsSample, void, undefined> {
    let resume = options.resume;
    for (let epoch = firstEpoch; epoch < endEpoch; epoch++) {
      Object.assign(position, { epoch, samplesConsumed: 0, pass: 0, shard: 0, samplesInShard: 0 });
      let toSkip = 0;
      if (resume) {
        position.samplesConsumed = resume.samplesConsumed;
        if (resume.pass !== undefined && resume.shard !== undefined && resume.samplesInShard !== undefined) {
          position.pass = resume.pass;
          position.shard = resume.shard;
          toSkip = resume.samplesInShard;
        } else {
          toSkip = resume.samplesConsumed;
        }
        resume = undefined;
      }
      const epochFull = () => samplesPerEpoch !== undefined && position.samplesConsumed >= samplesPerEpoch;
      for (let pass = position.pass; !epochFull(); pass++) {
        const list = options.resampled
          ? resampledShards(urls, splitSize, options.seed!, epoch, pass, split)
          : splitShards(passShardOrder(urls, options.seed, epoch, pass), split);
        let readInPass = 0;
        for (let shard = pass === position.pass ? position.shard : 0; shard < list.length && !epochFull(); shard++) {
          throwIfAborted(ctx.signal);
          position.pass = pass;
          position.shard = shard;
          position.samplesInShard = 0;
          for await (const sample of readOneShard(list[shard], ctx, options)) {
            readInPass++;
            position.samplesInShard++;
            if (toSkip > 0) {
              toSkip--;
              continue;
            }
            position.samplesConsumed++;
            yield sample;
            if (epochFull()) break;
          }
        }
        if (samplesPerEpoch === undefined) {
          if (readInPass === 0 && endEpoch === Infinity)
            throw new Error(
              `readShards: epoch ${epoch} read no samples from ${list.length} shard(s); stopping instead of ` +
                `looping forever`,
            );
          break;
        }
        if (readInPass === 0)
          throw new Error(
            `readShards: pass ${pass} of epoch ${epoch} read no samples from ${list.length} shard(s); cannot ` +
              `fill a virtual epoch of ${samplesPerEpoch}`,
          );
      }
      Object.assign(position, { epoch: epoch + 1, samplesConsumed: 0, pass: 0, shard: 0, samplesInShard: 0 });
    }
  }

  const reader = generate() as ShardReader;
  Object.defineProperty(reader, 'ctx', { value: ctx });
  reader.cursor = () => ({ ...position });
  return reader;
}

/** Samples of one shard; failures are handled (warn + count, or throw in strict mode) here. */
async function* readOneShard(url: string, ctx: StageContext, options: ReadShardsOptions): AsyncGenerator<WdsSample> {
  const stats = { bytes: 0 };
  const report: ShardReport = { url, samples: 0, bytes: 0, errors: [] };
  const onMemberError = (member: TarMember) => {
    const error = new ShardReadError(url, member.error ?? 'unreadable member', member.offset);
    if (options.strict) throw error;
    report.errors.push(error);
    ctx.counters.warnOnce(`shard:${url}`, `${error.message}; dropping its sample and continuing`);
  };
  try {
    const raw = await openShard(url, { ...options.http, signal: ctx.signal });
    const samples = groupSamples({ url, onMemberError })(
      tarMembers(raw, url, stats, { maxMemberBytes: options.maxMemberBytes }),
      ctx,
    );
    for await (const sample of samples) {
      report.samples++;
      ctx.counters.inc('samples_read');
      yield sample;
    }
    ctx.counters.inc('shards_read');
    if (report.samples === 0 && report.errors.length === 0) {
      ctx.counters.inc('shards_empty');
      ctx.counters.warnOnce(`shard:${url}`, `shard ${url}: no samples (empty shard)`);
    }
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? error; // cancellation is not a bad shard
    const failure =
      error instanceof ShardReadError
        ? error
        : new ShardReadError(url, error instanceof Error ? error.message : String(error), 0, { cause: error });
    if (options.strict) throw failure;
    report.errors.push(failure);
    ctx.counters.inc('shards_failed');
    ctx.counters.warnOnce(`shard:${url}`, `${failure.message}; skipping the rest of the shard and continuing`);
  } finally {
    report.bytes = stats.bytes;
    ctx.counters.inc('bytes_read', stats.bytes);
    options.onShardDone?.(report);
  }
}
