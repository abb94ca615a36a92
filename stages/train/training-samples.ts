// Source stage of a training run: shards -> samples with the image and text views a supervision asks for, epoch after
// epoch: readShards (seeded shard order per epoch, this rank's split) -> decodeViews -> tokenizeViews, each seeded by
// the epoch. Every sample carries `__cursor__`, the reader position right after it: a checkpoint stores the cursor of the
// last trained sample, and `from` continues exactly there (any shard size, any number of epochs, repeated keys).
// `stop` (SIGINT/SIGTERM) ends the stream at once, even while a shard read is stalled.
import type { HostSample } from '../../src/train/assemble.ts';
import type { ClipTokenizer } from '../../src/tokenizer/clip-tokenizer.ts';
import type { TextView } from '../../src/text/text-views.ts';
import type { ViewSpec } from '../../src/image/view-spec.ts';
import { NoDataError } from '../../src/train/halt.ts';
import { abortable, type StageContext } from '../core/stage.ts';
import { readShards, type ReaderCursor } from '../webdataset/read-shards.ts';
import { decodeViews } from '../image/decode-views.ts';
import { tokenizeViews } from '../text/tokenize-views.ts';

export type TrainingSample = HostSample & { __cursor__: Required<ReaderCursor> };

export interface TrainingSamplesOptions {
  /** The expanded shard list. */
  shards: string[];
  seed: number;
  epochs: number | 'endless';
  /** Continue after this reader position (a checkpoint's data cursor). */
  from?: ReaderCursor;
  /** This rank's split of the shards (data-parallel runs). */
  rank?: number;
  worldSize?: number;
  imageViews: ViewSpec[];
  textViews: TextView[];
  tokenizer: ClipTokenizer;
  captionExtension: string;
  /** Images decoded in flight. */
  decodeConcurrency: number;
  /** Ends the stream (without an error) as soon as it is aborted. */
  stop?: AbortSignal;
}

export function trainingSamples(
  options: TrainingSamplesOptions,
): (ctx: StageContext) => AsyncGenerator<TrainingSample> {
  return async function* trainingSamplesSource(outer) {
    const stop = options.stop;
    const signal = stop ? AbortSignal.any([outer.signal, stop]) : outer.signal;
    const ctx: StageContext = { signal, counters: outer.counters };
    const from = options.from;
    const lastEpoch = options.epochs === 'endless' ? Infinity : options.epochs;
    const split =
      options.worldSize && options.worldSize > 1 ? { rank: options.rank, worldSize: options.worldSize } : {};
    let emptyEpochs = 0;
    try {
      for (let epoch = from?.epoch ?? 0; epoch < lastEpoch; epoch++) {
        const reader = readShards({
          shards: options.shards,
          seed: options.seed,
          epoch,
          epochs: epoch + 1,
          resume: from && from.epoch === epoch ? from : undefined,
          ctx,
          ...split,
        });
        async function* withCursor() {
          for await (const s of reader) yield Object.assign(s, { __cursor__: reader.cursor() });
        }
        const decoded = decodeViews({
          views: options.imageViews,
          seed: options.seed,
          epoch,
          maxInFlight: options.decodeConcurrency,
        })(withCursor(), ctx);
        const tokenized = tokenizeViews({
          tokenizer: options.tokenizer,
          views: options.textViews,
          seed: options.seed,
          epoch,
          captionExtension: options.captionExtension,
        })(decoded, ctx);
        let n = 0;
        for await (const s of abortable(tokenized, signal)) {
          n++;
          yield s as unknown as TrainingSample;
        }
        emptyEpochs = n === 0 ? emptyEpochs + 1 : 0;
        if (emptyEpochs >= 2)
          throw new NoDataError(
            `data: two consecutive epochs produced no usable sample from ${options.shards.length} shard(s)`,
          );
      }
    } catch (err) {
      if (stop?.aborted && !outer.signal.aborted) return; // stopped: the stream simply ends
      throw err;
    }
  };
}
