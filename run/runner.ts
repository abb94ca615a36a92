// The runner: turns a validated pipeline declaration into a training run.
//   shards -(readShards, per epoch, cursor tracked per sample)-> samples -(decodeViews: the supervision's image views)
//   -> views -(tokenizeViews: the supervision's text views)-> tokens -(batch)-> -(assembleBatch)-> TrainBatch tensors
//   -(trainStep)-> -(data cursor)-> -(checkpoint)-> -(evaluate)-> -(metrics)-> done
// Resume (`checkpoint.resume`: latest | DIR) restores weights, AdamW moments, step, lr scale, RNG, supervision state
// (NN queue), guard history and the data cursor, so the resumed run computes the same steps as an uninterrupted one.
// A non-finite/diverging loss stops the run naming the step, or (policy 'rollback', DeCLIP's solver) reloads the
// last checkpoint with lr x 0.997 and continues. SIGINT/SIGTERM finish the current step, save, and return.
import { mkdirSync, existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend } from '../src/backend.ts';
import { loadTokenizer, type ClipTokenizer } from '../src/tokenizer/clip-tokenizer.ts';
import { createSupervision } from '../src/supervision/index.ts';
import type { Supervision } from '../src/supervision/types.ts';
import { createClip, type ClipModel } from '../src/models/clip.ts';
import { ParamStore } from '../src/nn/params.ts';
import { deriveRng } from '../src/rng.ts';
import { expandShardSpec } from '../src/webdataset/shard-spec.ts';
import { viewPresets, imagenetStats, openaiClipStats } from '../src/image/presets.ts';
import { Trainer } from '../src/train/trainer.ts';
import { sampleId, type HostSample, type TextKey } from '../src/train/assemble.ts';
import {
  saveCheckpoint,
  loadCheckpoint,
  latestCheckpoint,
  removeCheckpointsAfter,
  applyWeights,
  type DataCursor,
  type LoadedCheckpoint,
} from '../src/train/checkpoint-format.ts';
import { declaredModelConfig } from './model-config.ts';
import { zeroShotEvaluation } from './zero-shot-hook.ts';
import type { PipelineDeclaration } from './declaration.ts';
import { runStages, createContext, type Stage, type StageContext } from '../stages/core/stage.ts';
import { readShards, type ReaderCursor } from '../stages/webdataset/read-shards.ts';
import { decodeViews } from '../stages/image/decode-views.ts';
import { tokenizeViews } from '../stages/text/tokenize-views.ts';
import { batch } from '../stages/core/batch.ts';
import { assembleBatch } from '../stages/train/assemble-batch.ts';
import { trainStepStage, type StepRecord } from '../stages/train/train-step-stage.ts';
import { RollbackRequest, TrainingHalt } from '../src/train/halt.ts';
import { checkpointStage } from '../stages/train/checkpoint-stage.ts';
import { evaluateStage, type EvalResults } from '../stages/train/evaluate-stage.ts';
import { metricsStage } from '../stages/train/metrics-stage.ts';
import { getCollective, type Collective } from '../src/distributed/collective.ts';
import { createDataParallel, broadcastParameters } from '../src/distributed/data-parallel.ts';
import { gatherCursors, cursorForRank } from '../src/distributed/rank-cursors.ts';
import { agreeOnSteps } from '../stages/train/agree-on-steps.ts';
import { checkpointDirName } from '../src/train/checkpoint-format.ts';
import type { TrainerOptions } from '../src/train/trainer.ts';
import { EXIT } from './command.ts';

/** No training data (exit code 3). */
export class MissingDataError extends Error {
  readonly exitCode = EXIT.noData;
  constructor(message: string) {
    super(message);
    this.name = 'MissingDataError';
  }
}

export interface RunOptions {
  /** Stop (SIGINT/SIGTERM from runCommand, or tests): finishes the current step, saves, returns. */
  stop?: AbortSignal;
  log?: (line: string) => void;
  /** Data parallelism (default: getCollective() — MPI under mpirun/srun, single process otherwise). */
  collective?: Collective;
}

export interface RunSummary {
  outDir: string;
  backend: string;
  firstStep: number;
  lastStep: number;
  stoppedBy: 'steps' | 'data' | 'signal';
  samples: number;
  wallMs: number;
  samplesPerSec: number;
  lastLoss: number;
  lastParts: Record<string, number>;
  evals: Array<{ step: number; results: EvalResults }>;
  checkpoint?: string;
  rollbacks: number;
  counters: Record<string, number>;
}

/** Everything a run builds before the data flows (exposed so custom pipelines and the demo can reuse it). */
export interface RunParts {
  tokenizer: ClipTokenizer;
  supervision: Supervision;
  model: ClipModel;
  trainer: Trainer<ClipModel>;
  dispose(): void;
}

export async function buildRunParts(
  d: PipelineDeclaration,
  computeGradients?: TrainerOptions['computeGradients'],
): Promise<RunParts> {
  const tokenizer = await loadTokenizer({
    variant: d.text.variant,
    vocabPath: d.text.vocabPath || undefined,
    contextLength: d.text.contextLength,
  });
  const supervision = createSupervision(d.supervision.name, d.supervision.options);
  const config = declaredModelConfig(d, tokenizer.vocabSize);
  const store = new ParamStore();
  const model = createClip(config, store, deriveRng(d.seed, 'model'));
  supervision.addHeads(model, deriveRng(d.seed, 'heads'));
  const o = d.optim;
  const trainer = new Trainer<ClipModel>(model, supervision, {
    schedule: {
      baseLr: o.baseLr,
      peakLr: o.peakLr,
      warmupSteps: o.warmupSteps,
      totalSteps: o.totalSteps,
      minLr: o.minLr,
    },
    adamw: { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay },
    microBatchSize: o.microBatchSize,
    nanPolicy: o.nanPolicy,
    computeGradients,
  });
  return {
    tokenizer,
    supervision,
    model,
    trainer,
    dispose: () => {
      trainer.dispose();
      supervision.dispose();
      model.dispose();
    },
  };
}

/** Resolve `checkpoint.resume` to a checkpoint directory (undefined = start fresh). */
export async function resolveResume(d: PipelineDeclaration): Promise<string | undefined> {
  const r = d.checkpoint.resume;
  if (!r) return undefined;
  if (r === 'latest') return latestCheckpoint(join(d.logging.out, 'checkpoints'));
  if (!existsSync(r)) throw new Error(`checkpoint.resume: ${r} does not exist`);
  return resolve(r);
}

/** Keep only metrics records of steps <= step (a resumed or rolled-back run rewrites what follows). */
function truncateMetrics(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        const r = JSON.parse(line) as { step?: number };
        return r.step === undefined || r.step <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(file, kept.map((l) => l + '\n').join(''));
}

export async function runPipeline(d: PipelineDeclaration, options: RunOptions = {}): Promise<RunSummary> {
  // Data parallelism (src/distributed, docs/distributed.md): optim.batchSize is the GLOBAL batch, each rank reads its
  // split of the shards and trains on batchSize / ranks samples; rank 0 alone writes metrics and checkpoints.
  const world = options.collective ?? getCollective();
  const parallel = world.size > 1;
  const lead = world.rank === 0;
  const log = !lead ? () => {} : (options.log ?? ((line: string) => process.stderr.write(line + '\n')));
  if (d.optim.batchSize % world.size !== 0)
    throw new Error(`optim.batchSize (${d.optim.batchSize}) must be a multiple of the number of ranks (${world.size})`);
  const localBatch = d.optim.batchSize / world.size;
  const spec = d.data.shards || (d.data.env ? (process.env[d.data.env] ?? '') : '');
  if (!spec) throw new MissingDataError(d.data.missingHint);
  const shardList = expandShardSpec(spec);
  if (shardList.length === 0) throw new MissingDataError(`data.shards: ${JSON.stringify(spec)} names no shards`);

  const hook =
    d.eval.evaluate ??
    (d.eval.shards
      ? zeroShotEvaluation({ shards: d.eval.shards, prompts: d.eval.prompts, dataset: d.eval.dataset })
      : null);
  await hook?.validate?.(); // bad evaluation settings fail now, not at the first evaluation

  const backend = await initBackend({ backend: d.backend.name, threads: d.backend.threads || undefined, quiet: true });
  const dp = parallel
    ? createDataParallel(world, {
        nnQueue: d.distributed.nnQueue,
        buffers: d.distributed.bnBuffers,
        bucketBytes: Math.round(d.distributed.bucketMb * 1024 * 1024),
      })
    : undefined;
  const parts = await buildRunParts(d, dp?.computeGradients);
  const { tokenizer, supervision, model, trainer } = parts;
  const out = d.logging.out;
  const ckptRoot = join(out, 'checkpoints');
  const metricsFile = join(out, 'metrics.jsonl');
  mkdirSync(out, { recursive: true });
  const runRng = deriveRng(d.seed, 'run');
  const counters = createContext().counters;
  let cursor: DataCursor | undefined;
  let samplesSeen = 0;
  let elapsedBefore = 0;
  let rollbacks = 0;

  const restore = (ck: LoadedCheckpoint) => {
    const s = ck.state;
    if (s.model.preset !== d.model.preset || s.model.supervision !== d.supervision.name) {
      throw new Error(
        `checkpoint.resume: ${ck.dir} is a ${s.model.supervision} / ${s.model.preset} checkpoint, this pipeline is ${d.supervision.name} / ${d.model.preset}`,
      );
    }
    if (s.data.shards.length !== shardList.length || s.data.shards.some((u, i) => u !== shardList[i])) {
      throw new Error(
        `checkpoint.resume: ${ck.dir} was trained on a different shard list (${s.data.shards.length} shards vs ${shardList.length})`,
      );
    }
    applyWeights(model.store, ck);
    trainer.optimizer.loadState(ck.moments);
    trainer.step = s.step;
    trainer.lrScale = s.lrScale;
    trainer.guard.setState(s.guard);
    supervision.setState(s.supervision);
    runRng.setState(s.rng);
    cursor = cursorForRank(s.data, world.rank, world.size, ck.dir);
    samplesSeen = s.samplesSeen;
    elapsedBefore = s.elapsedMs;
    rollbacks = s.rollbacks;
  };

  const resumeDir = await resolveResume(d);
  if (resumeDir) {
    restore(await loadCheckpoint(resumeDir));
    if (lead) truncateMetrics(metricsFile, trainer.step);
    log(`[${d.name}] resumed from ${resumeDir} at step ${trainer.step}`);
  } else {
    if (d.checkpoint.resume === 'latest') log(`[${d.name}] no checkpoint under ${ckptRoot}: starting fresh`);
    if (lead) writeFileSync(metricsFile, '');
  }
  // every rank starts from rank 0's parameters (fresh runs build the same ones from the seed; this makes it certain)
  if (parallel) broadcastParameters(world, model.store);
  const firstStep = trainer.step;
  if (lead)
    appendFileSync(
      metricsFile,
      JSON.stringify({
        type: 'run',
        time: new Date().toISOString(),
        name: d.name,
        startStep: firstStep,
        backend: backend.name,
        threads: backend.threads,
        model: d.model.preset,
        supervision: d.supervision.name,
        batchSize: d.optim.batchSize,
        microBatchSize: d.optim.microBatchSize,
        ranks: world.size,
        lastStep: d.optim.steps,
        parameters: model.store.countValues(true),
        shards: shardList.length,
      }) + '\n',
    );
  log(
    `[${d.name}] ${d.supervision.name} / ${d.model.preset} (${(model.store.countValues(true) / 1e6).toFixed(2)}M trainable) on ${backend.name} x${backend.threads}, ` +
      `batch ${d.optim.batchSize}${d.optim.microBatchSize && d.optim.microBatchSize < d.optim.batchSize ? ` (micro ${d.optim.microBatchSize})` : ''}, steps ${firstStep + 1}..${d.optim.steps}, out ${out}` +
      (parallel
        ? `; ${world.size} ranks x ${localBatch} samples, NN queue ${d.distributed.nnQueue}, BN buffers ${d.distributed.bnBuffers}`
        : ''),
  );

  // ---- stop requests (SIGINT/SIGTERM or programmatic) ----
  let stopRequested = false;
  const requestStop = (why: string) => {
    if (stopRequested) return;
    stopRequested = true;
    log(`[${d.name}] ${why}: finishing the current step, saving a checkpoint, then stopping`);
  };
  options.stop?.addEventListener(
    'abort',
    () => requestStop(options.stop?.reason instanceof Error ? options.stop.reason.message : 'stop requested'),
    { once: true },
  );

  // ---- the data path ----
  const imageSize = model.config.vision.imageSize;
  const stats = d.model.normalisation === 'openai' ? openaiClipStats : imagenetStats;
  const viewSpecs = supervision.imageViews.map((v) => viewPresets[v](imageSize, stats));
  const textKeys: TextKey[] = supervision.textViews.flatMap((v) =>
    v === 'mlm' ? (['mlm', 'mlmLabels'] as TextKey[]) : [v],
  );
  const positions = new Map<string, Required<ReaderCursor>>();

  const samples = (ctx: StageContext, from: DataCursor | undefined) =>
    (async function* trainingSamples(): AsyncGenerator<HostSample> {
      const lastEpoch = d.data.epochs === 'endless' ? Infinity : d.data.epochs;
      let emptyEpochs = 0;
      for (let epoch = from?.epoch ?? 0; epoch < lastEpoch; epoch++) {
        const reader = readShards({
          shards: shardList,
          seed: d.seed,
          epoch,
          epochs: epoch + 1,
          resume: from && from.epoch === epoch ? from : undefined,
          ctx,
          ...(parallel ? { rank: world.rank, worldSize: world.size } : {}),
        });
        async function* tracked() {
          for await (const s of reader) {
            positions.set(sampleId(s), reader.cursor());
            yield s;
          }
        }
        const decoded = decodeViews({ views: viewSpecs, seed: d.seed, epoch, maxInFlight: d.data.decodeConcurrency })(
          tracked(),
          ctx,
        );
        const tokenized = tokenizeViews({
          tokenizer,
          views: [...supervision.textViews],
          seed: d.seed,
          epoch,
          captionExtension: d.data.captionExtension,
        })(decoded, ctx);
        let n = 0;
        for await (const s of tokenized) {
          n++;
          yield s as unknown as HostSample;
        }
        emptyEpochs = n === 0 ? emptyEpochs + 1 : 0;
        if (emptyEpochs >= 2)
          throw new Error(`data: two consecutive epochs produced no usable samples from ${shardList.length} shard(s)`);
      }
    })();

  const withCursor: Stage<StepRecord, StepRecord & { cursor: Required<ReaderCursor> }> = async function* dataCursor(
    source,
  ) {
    for await (const r of source) {
      const c = positions.get(r.lastSampleId);
      if (!c) throw new Error(`internal: no reader position for sample ${r.lastSampleId}`);
      for (const key of positions.keys()) {
        positions.delete(key);
        if (key === r.lastSampleId) break;
      }
      yield { ...r, cursor: c };
    }
  };

  const started = performance.now();
  let sessionSamples = 0;
  let last: (StepRecord & { eval?: EvalResults }) | undefined;
  const evals: RunSummary['evals'] = [];
  let lastCheckpoint: string | undefined;
  const evaluate =
    hook && lead
      ? async (step: number) =>
          hook({
            step,
            model,
            supervision,
            tokenizer,
            declaration: d,
            signal: options.stop ?? new AbortController().signal,
          })
      : null;

  const save = async (r: StepRecord & { cursor?: Required<ReaderCursor> }) => {
    const c = r.cursor ?? cursor;
    if (parallel) {
      // a collective on every rank: rank 0 writes every rank's data cursor; nobody starts the next step before it is on disk
      const ranks = gatherCursors(world, c ?? { epoch: 0, samplesConsumed: 0 });
      const dir = lead ? await saveCheckpointOf(c, ranks) : join(ckptRoot, checkpointDirName(trainer.step));
      world.barrier();
      return dir;
    }
    return saveCheckpointOf(c);
  };
  const saveCheckpointOf = async (c: DataCursor | Required<ReaderCursor> | undefined, ranks?: unknown[]) => {
    return saveCheckpoint(
      ckptRoot,
      {
        store: model.store,
        moments: trainer.optimizer.state(),
        state: {
          pipeline: d.name,
          step: trainer.step,
          lrScale: trainer.lrScale,
          rollbacks,
          optimizer: { step: trainer.optimizer.step, config: trainer.optimizer.config },
          schedule: trainer.options.schedule,
          rng: runRng.getState(),
          supervision: supervision.getState(),
          guard: trainer.guard.getState(),
          data: {
            ...(c ?? { epoch: 0, samplesConsumed: 0 }),
            shards: shardList,
            seed: d.seed,
            ...(ranks ? { ranks } : {}),
          },
          samplesSeen,
          elapsedMs: elapsedBefore + (performance.now() - started),
          model: { preset: d.model.preset, supervision: d.supervision.name },
        },
      },
      d.checkpoint.keep,
    );
  };

  try {
    while (true) {
      const ctx = createContext({ counters });
      try {
        await runStages(
          ctx,
          samples(ctx, cursor),
          [
            batch(localBatch, { dropLast: true }),
            assembleBatch({ imageViews: viewSpecs.length, textKeys }),
            // ranks step together: a batch is trained only when every rank has one and no rank asked to stop
            ...(parallel
              ? [
                  agreeOnSteps({
                    world,
                    stopRequested: () => stopRequested,
                    onStop: (why) => {
                      if (why === 'stop') stopRequested = true;
                    },
                  }),
                ]
              : []),
            trainStepStage({
              trainer,
              lastStep: d.optim.steps,
              stopRequested: parallel ? () => false : () => stopRequested,
            }),
            withCursor,
            async function* count(source: AsyncIterable<StepRecord & { cursor: Required<ReaderCursor> }>) {
              for await (const local of source) {
                // data parallel: the step trained the global batch (every rank's samples), metrics count it so
                const r = parallel
                  ? { ...local, samples: local.samples * world.size, samplesPerSec: local.samplesPerSec * world.size }
                  : local;
                samplesSeen += r.samples;
                sessionSamples += r.samples;
                cursor = { ...r.cursor, shards: shardList, seed: d.seed };
                yield r;
              }
            },
            checkpointStage({
              every: d.checkpoint.every,
              save,
              onSaved: (dir) => {
                lastCheckpoint = dir;
              },
            }),
            evaluateStage({ every: d.eval.every, evaluate }),
            ...(lead
              ? [
                  metricsStage({
                    file: metricsFile,
                    firstStep,
                    lastStep: d.optim.steps,
                    progress: d.logging.progress,
                    every: d.logging.every,
                    write: log,
                  }),
                ]
              : []),
          ],
          async (source: AsyncIterable<StepRecord & { eval?: EvalResults }>) => {
            for await (const r of source) {
              last = r;
              if (r.eval) evals.push({ step: r.step, results: r.eval });
            }
          },
        );
        break;
      } catch (err) {
        if (!(err instanceof RollbackRequest)) throw err;
        rollbacks++;
        if (rollbacks > d.optim.maxRollbacks)
          throw new TrainingHalt(
            err.step,
            `${err.message.replace(/^rollback requested: /, '')} (after ${d.optim.maxRollbacks} rollbacks)`,
          );
        const dir = await latestCheckpoint(ckptRoot);
        if (!dir)
          throw new TrainingHalt(
            err.step,
            `${err.message.replace(/^rollback requested: /, '')}, and there is no checkpoint to roll back to`,
          );
        // the lr reduction accumulates over rollbacks (DeCLIP's solver scales warmup_lr by 0.997 each time)
        const keepRollbacks = rollbacks;
        const scale = trainer.lrScale;
        const ck = await loadCheckpoint(dir);
        restore(ck);
        rollbacks = keepRollbacks;
        trainer.lrScale = scale * d.optim.rollbackLrFactor;
        positions.clear();
        if (parallel) {
          broadcastParameters(world, model.store);
          world.barrier();
        } // every rank has read the checkpoint
        if (lead) await removeCheckpointsAfter(ckptRoot, trainer.step);
        if (lead) truncateMetrics(metricsFile, trainer.step);
        if (lead)
          appendFileSync(
            metricsFile,
            JSON.stringify({
              type: 'rollback',
              time: new Date().toISOString(),
              atStep: err.step,
              toStep: trainer.step,
              lrScale: trainer.lrScale,
              reason: err.message,
            }) + '\n',
          );
        log(
          `[${d.name}] ${err.message}; rolled back to step ${trainer.step} (${dir}), lr x ${trainer.lrScale.toFixed(6)}`,
        );
      }
    }
    if (evaluate && d.eval.atEnd && trainer.step > 0 && !evals.some((e) => e.step === trainer.step)) {
      const results = await evaluate(trainer.step);
      evals.push({ step: trainer.step, results });
      appendFileSync(
        metricsFile,
        JSON.stringify({ type: 'eval', step: trainer.step, time: new Date().toISOString(), results }) + '\n',
      );
      log(
        `eval @ step ${trainer.step}: ` +
          Object.entries(results)
            .map(([k, v]) => `${k} ${v.toFixed(4)}`)
            .join(' '),
      );
    }
  } finally {
    parts.dispose();
  }
  const wallMs = performance.now() - started;
  const stoppedBy = trainer.step >= d.optim.steps ? 'steps' : stopRequested ? 'signal' : 'data';
  const summary: RunSummary = {
    outDir: out,
    backend: `${backend.name} x${backend.threads}`,
    firstStep,
    lastStep: trainer.step,
    stoppedBy,
    samples: sessionSamples,
    wallMs,
    samplesPerSec: wallMs > 0 ? (sessionSamples * 1000) / wallMs : 0,
    lastLoss: last?.loss ?? NaN,
    lastParts: last?.parts ?? {},
    evals,
    checkpoint: lastCheckpoint,
    rollbacks,
    counters: counters.toJSON(),
  };
  if (lead)
    appendFileSync(metricsFile, JSON.stringify({ type: 'end', time: new Date().toISOString(), ...summary }) + '\n');
  return summary;
}
