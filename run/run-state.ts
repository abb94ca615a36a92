// Everything a training run must carry across a checkpoint, in one object: the model weights and AdamW moments (held
// by the trainer), step, lr scale, rollbacks, RNG, supervision state (NN queue), NaN-guard history, the data cursor
// (the reader position after the last trained sample, per rank under MPI), samples seen and time spent.
// `toCheckpoint()` is what a checkpoint stores; `restore()` puts a checkpoint back; `rollBack()` puts a checkpoint's
// trajectory back but keeps the history of rollbacks (count, cumulative lr reduction) of the run.
import type { ClipModel } from '../src/models/clip.ts';
import type { Supervision } from '../src/supervision/types.ts';
import type { Trainer } from '../src/train/trainer.ts';
import type { Rng } from '../src/rng.ts';
import type { ModelRecord } from '../src/weights/model-record.ts';
import {
  applyWeights,
  type DataCursor,
  type LoadedCheckpoint,
  type SaveInput,
} from '../src/train/checkpoint-format.ts';
import { cursorForRank, type RankCursor } from '../src/distributed/rank-cursors.ts';
import type { ReaderCursor } from '../stages/webdataset/read-shards.ts';

export interface RunStateParts {
  name: string;
  trainer: Trainer<ClipModel>;
  supervision: Supervision;
  model: ClipModel;
  /** What checkpoints record of the model (architecture, tokenizer, normalisation). */
  record: ModelRecord;
  rng: Rng;
  shards: string[];
  seed: number;
  /** Checked against a checkpoint before restoring it. */
  identity: { preset: string; supervision: string };
  rank: number;
  ranks: number;
}

export class RunState {
  private readonly p: RunStateParts;
  /** Reader position after the last trained sample (undefined: the start of the data). */
  cursor: Required<ReaderCursor> | ReaderCursor | undefined;
  /** Samples trained on in this run (all ranks together), since step 0. */
  samplesSeen = 0;
  rollbacks = 0;
  /** The last step whose evaluation is recorded (-1: none), so the end of a resumed run does not evaluate it twice. */
  evaluatedStep = -1;
  private elapsedBefore = 0;
  private readonly sessionStart = performance.now();

  constructor(parts: RunStateParts) {
    this.p = parts;
  }

  /** The last completed step. */
  get step(): number {
    return this.p.trainer.step;
  }

  /** Wall time spent on this run, earlier sessions included. */
  get elapsedMs(): number {
    return this.elapsedBefore + (performance.now() - this.sessionStart);
  }

  /** A step was trained on `samples` samples (all ranks), ending at the reader position `cursor`. */
  advance(samples: number, cursor: ReaderCursor | undefined): void {
    this.samplesSeen += samples;
    if (cursor) this.cursor = cursor;
  }

  /** What a checkpoint stores. `ranks`: every rank's cursor (a data-parallel run). */
  async toCheckpoint(ranks?: RankCursor[]): Promise<SaveInput> {
    const { trainer, supervision, model } = this.p;
    const data: DataCursor = {
      ...(this.cursor ?? { epoch: 0, samplesConsumed: 0 }),
      shards: this.p.shards,
      seed: this.p.seed,
      ...(ranks ? { ranks } : {}),
    };
    return {
      store: model.store,
      record: this.p.record,
      // (awaited: on a GPU backend the moments are read back from the device)
      moments: await trainer.optimizer.state(),
      state: {
        pipeline: this.p.name,
        step: trainer.step,
        lrScale: trainer.lrScale,
        rollbacks: this.rollbacks,
        optimizer: { step: trainer.optimizer.step, config: trainer.optimizer.config },
        schedule: trainer.options.schedule,
        rng: this.p.rng.getState(),
        supervision: supervision.getState(),
        guard: trainer.guard.getState(),
        data,
        samplesSeen: this.samplesSeen,
        evaluatedStep: this.evaluatedStep,
        elapsedMs: this.elapsedMs,
        model: { ...this.p.identity },
      },
    };
  }

  /** Continue from a checkpoint: every part of the state is the checkpoint's. */
  restore(ck: LoadedCheckpoint): void {
    this.load(ck);
    this.rollbacks = ck.state.rollbacks;
    this.p.trainer.lrScale = ck.state.lrScale;
    this.elapsedBefore = ck.state.elapsedMs;
  }

  /**
   * Roll back to a checkpoint after a non-finite loss (the seed's solver): the checkpoint's trajectory (weights,
   * moments, step, RNG, queue, cursor), one more rollback, and the lr reduced by `lrFactor` once more.
   */
  rollBack(ck: LoadedCheckpoint, lrFactor: number): void {
    const lrScale = this.p.trainer.lrScale;
    this.load(ck);
    this.rollbacks += 1;
    this.p.trainer.lrScale = lrScale * lrFactor;
  }

  private load(ck: LoadedCheckpoint): void {
    const s = ck.state;
    const { trainer, supervision, model, identity, shards } = this.p;
    if (s.model.preset !== identity.preset || s.model.supervision !== identity.supervision)
      throw new Error(
        `checkpoint.resume: ${ck.dir} is a ${s.model.supervision} / ${s.model.preset} checkpoint, this pipeline is ${identity.supervision} / ${identity.preset}`,
      );
    if (s.data.shards.length !== shards.length || s.data.shards.some((u, i) => u !== shards[i]))
      throw new Error(
        `checkpoint.resume: ${ck.dir} was trained on a different shard list (${s.data.shards.length} shards vs ${shards.length})`,
      );
    applyWeights(model, ck);
    trainer.optimizer.loadState(ck.moments);
    trainer.step = s.step;
    trainer.guard.setState(s.guard);
    supervision.setState(s.supervision);
    this.p.rng.setState(s.rng);
    const { shards: _shards, seed: _seed, ...cursor } = cursorForRank(s.data, this.p.rank, this.p.ranks, ck.dir);
    this.cursor = cursor;
    this.samplesSeen = s.samplesSeen;
    this.evaluatedStep = s.evaluatedStep ?? -1;
  }
}
