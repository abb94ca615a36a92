// The runner: turns a validated pipeline declaration into a training run. `runPipeline` is the outline; each phase
// is a function below it, in the order they run:
//
//   setUp      cheap checks first (data, evaluation settings), the run directory (lock, configuration), backend,
//              model, trainer, the run state and the one metrics writer
//   restore    --resume: the newest intact checkpoint (weights, AdamW moments, step, lr scale, RNG, NN queue, guard
//              history, data cursor), metrics rewound to it; otherwise a fresh start
//   stream     shards -> samples (trainingSamples) -> batches -> train step -> evaluate -> metrics -> checkpoint;
//              a non-finite loss under policy 'rollback' goes back to the last checkpoint with the lr x 0.997
//   finish     the end: evaluation of the last step, the final checkpoint, the run's status
//   summarise  what the command line prints
//
// Per step, the evaluation and the metrics records come BEFORE the step's checkpoint, and a resumed run rewinds the
// metrics to its checkpoint: after a kill at any instant, the resumed metrics hold every step and every scheduled
// evaluation exactly once, with the values of an uninterrupted run. A stop request (SIGINT/SIGTERM) finishes the
// current step, saves and returns, and interrupts a stalled data read at once.
import { join } from 'node:path';
import { initBackend, type BackendInfo } from '../src/backend.ts';
import { deriveRng } from '../src/rng.ts';
import { expandShardSpec } from '../src/webdataset/shard-spec.ts';
import { viewPresets, normalisations } from '../src/image/presets.ts';
import type { TextKey } from '../src/train/assemble.ts';
import { checkpointDirName, removeCheckpointsAfter, saveCheckpoint } from '../src/train/checkpoint-format.ts';
import { NoDataError, RollbackRequest, TrainingHalt } from '../src/train/halt.ts';
import { getCollective, type Collective } from '../src/distributed/collective.ts';
import { createDataParallel, broadcastParameters } from '../src/distributed/data-parallel.ts';
import { gatherCursors } from '../src/distributed/rank-cursors.ts';
import { Counters } from '../src/counters.ts';
import { runStages, createContext, drain } from '../stages/core/stage.ts';
import { batch } from '../stages/core/batch.ts';
import { tap } from '../stages/core/tap.ts';
import { trainingSamples } from '../stages/train/training-samples.ts';
import { assembleBatch } from '../stages/train/assemble-batch.ts';
import { agreeOnSteps } from '../stages/train/agree-on-steps.ts';
import { trainStepStage, type StepRecord } from '../stages/train/train-step-stage.ts';
import { evaluateStage, type EvalResults } from '../stages/train/evaluate-stage.ts';
import { checkpointStage } from '../stages/train/checkpoint-stage.ts';
import type { PipelineDeclaration } from './declaration.ts';
import { DeclarationError } from './validate.ts';
import { buildRunParts, type RunParts } from './run-parts.ts';
import { RunState } from './run-state.ts';
import { openRunDirectory, type RunDirectory } from './run-directory.ts';
import { checkpointToResume, newestIntactCheckpoint } from './checkpoints.ts';
import { zeroShotEvaluation } from './zero-shot-hook.ts';
import { MetricsWriter } from './metrics/writer.ts';
import { jsonlSink } from './metrics/jsonl-sink.ts';
import { consoleSink } from './metrics/console-sink.ts';
import { tensorboardSink } from './metrics/tensorboard-sink.ts';
import type { StepMetricsRecord } from './metrics/records.ts';

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

export async function runPipeline(d: PipelineDeclaration, options: RunOptions = {}): Promise<RunSummary> {
  const run = await setUp(d, options);
  try {
    await restore(run);
    if (d.eval.atStart && run.state.step === 0) await evaluate(run, 0);
    for (;;) {
      try {
        await stream(run);
        break;
      } catch (err) {
        if (!(err instanceof RollbackRequest)) throw err;
        await rollBack(run, err);
      }
    }
    await finish(run);
    return await summarise(run);
  } catch (err) {
    await failed(run, err);
    throw err;
  } finally {
    await close(run);
  }
}

// ---- the state a run's phases share ------------------------------------------------------------------------------

interface Run {
  d: PipelineDeclaration;
  log: (line: string) => void;
  world: Collective;
  /** Rank 0: writes metrics, checkpoints, the run record. */
  lead: boolean;
  shards: string[];
  backend: BackendInfo;
  parts: RunParts;
  state: RunState;
  dir: RunDirectory | undefined;
  metrics: MetricsWriter;
  counters: Counters;
  evaluateHook: ((step: number) => Promise<EvalResults>) | null;
  /** Aborted by a stop request: ends the data stream (single process) and an evaluation in progress. */
  stopping: AbortController;
  /** A stop cut an evaluation short: the current step is not complete, so it is not saved. */
  stepIncomplete: boolean;
  firstStep: number;
  savedStep: number;
  lastCheckpoint: string | undefined;
  lastStepRecord: StepRecord | undefined;
  sessionSamples: number;
  evals: RunSummary['evals'];
  started: number;
  stoppedBy?: RunSummary['stoppedBy'];
}

const checkpointRoot = (d: PipelineDeclaration) => join(d.logging.out, 'checkpoints');
const evaluationDue = (d: PipelineDeclaration, step: number) =>
  (d.eval.every > 0 && step % d.eval.every === 0) || (d.eval.atEnd && step === d.optim.steps);

// ---- set up ------------------------------------------------------------------------------------------------------

async function setUp(d: PipelineDeclaration, options: RunOptions): Promise<Run> {
  // Data parallelism (docs/distributed.md): optim.batchSize is the GLOBAL batch, each rank reads its split of the
  // shards and trains on batchSize / ranks samples; rank 0 alone writes metrics, checkpoints and the run record.
  const world = options.collective ?? getCollective();
  const lead = world.rank === 0;
  const log = !lead ? () => {} : (options.log ?? ((line: string) => process.stderr.write(line + '\n')));
  if (d.optim.batchSize % world.size !== 0)
    throw new Error(`optim.batchSize (${d.optim.batchSize}) must be a multiple of the number of ranks (${world.size})`);
  const spec = d.data.shards || (d.data.env ? (process.env[d.data.env] ?? '') : '');
  if (!spec) throw new NoDataError(d.data.missingHint);
  const shards = expandShardSpec(spec);
  if (shards.length === 0) throw new NoDataError(`data.shards: ${JSON.stringify(spec)} names no shards`);
  const hook =
    d.eval.evaluate ??
    (d.eval.shards
      ? zeroShotEvaluation({ shards: d.eval.shards, prompts: d.eval.prompts, dataset: d.eval.dataset })
      : null);
  // bad evaluation settings (files, prompts) fail now, not at the first evaluation
  if (hook && lead)
    await hook.validate?.().catch((err: Error) => {
      throw new DeclarationError('eval', `eval: ${err.message}`);
    });

  const dir = lead ? openRunDirectory(d, spec, { resuming: d.checkpoint.resume !== '', log }) : undefined;
  try {
    const backend = await initBackend({
      backend: d.backend.name,
      threads: d.backend.threads || undefined,
      quiet: true,
    });
    const dp =
      world.size > 1
        ? createDataParallel(world, {
            nnQueue: d.distributed.nnQueue,
            buffers: d.distributed.bnBuffers,
            bucketBytes: Math.round(d.distributed.bucketMb * 1024 * 1024),
          })
        : undefined;
    const parts = await buildRunParts(d, dp?.computeGradients);
    const state = new RunState({
      name: d.name,
      trainer: parts.trainer,
      supervision: parts.supervision,
      model: parts.model,
      record: parts.record,
      rng: deriveRng(d.seed, 'run'),
      shards,
      seed: d.seed,
      identity: { preset: d.model.preset, supervision: d.supervision.name },
      rank: world.rank,
      ranks: world.size,
    });
    const metrics = new MetricsWriter(
      lead
        ? [
            jsonlSink(join(d.logging.out, 'metrics.jsonl')),
            tensorboardSink(d.logging.out),
            consoleSink({ mode: d.logging.progress, every: d.logging.every, write: log }),
          ]
        : [],
    );
    const stopping = new AbortController();
    const run: Run = {
      d,
      log,
      world,
      lead,
      shards,
      backend,
      parts,
      state,
      dir,
      metrics,
      counters: createContext().counters,
      evaluateHook: null,
      stopping,
      stepIncomplete: false,
      firstStep: 0,
      savedStep: -1,
      lastCheckpoint: undefined,
      lastStepRecord: undefined,
      sessionSamples: 0,
      evals: [],
      started: performance.now(),
    };
    run.evaluateHook =
      hook && lead
        ? (step) =>
            hook({
              step,
              model: parts.model,
              supervision: parts.supervision,
              tokenizer: parts.tokenizer,
              declaration: d,
              // under MPI every rank waits for rank 0's evaluation in the next collective: let it finish
              signal: world.size > 1 ? new AbortController().signal : stopping.signal,
            })
        : null;
    const requestStop = () => {
      if (stopping.signal.aborted) return;
      const why = options.stop?.reason instanceof Error ? options.stop.reason.message : 'stop requested';
      log(
        `[${d.name}] ${why}: finishing the current step${d.checkpoint.onSignal ? ', saving a checkpoint' : ''}, then stopping`,
      );
      stopping.abort(options.stop?.reason);
    };
    if (options.stop?.aborted) requestStop();
    else options.stop?.addEventListener('abort', requestStop, { once: true });
    return run;
  } catch (err) {
    dir?.close();
    throw err;
  }
}

// ---- restore -----------------------------------------------------------------------------------------------------

async function restore(run: Run): Promise<void> {
  const { d, state, log, world, metrics } = run;
  const warn = (line: string) => log(`[${d.name}] warning: ${line}`);
  const ck = await checkpointToResume(d.checkpoint.resume, d.logging.out, warn);
  if (ck) {
    state.restore(ck);
    await metrics.rewind(state.step);
    log(`[${d.name}] resumed from ${ck.dir} at step ${state.step}`);
  } else {
    if (d.checkpoint.resume === 'latest') log(`[${d.name}] no checkpoint under ${checkpointRoot(d)}: starting fresh`);
    await metrics.rewind(null);
  }
  // every rank starts from rank 0's parameters (fresh runs build the same ones from the seed; this makes it certain)
  if (world.size > 1) await broadcastParameters(world, run.parts.model.store);
  run.firstStep = run.savedStep = state.step;
  run.dir?.setStatus('running', state.step);
  const { backend, parts } = run;
  const parameters = parts.model.store.countValues(true);
  const o = d.optim;
  log(
    `[${d.name}] ${d.supervision.name} / ${d.model.preset} (${(parameters / 1e6).toFixed(2)}M trainable) on ${backend.name} x${backend.threads}, ` +
      `batch ${o.batchSize}${o.microBatchSize && o.microBatchSize < o.batchSize ? ` (micro ${o.microBatchSize})` : ''}, steps ${state.step + 1}..${o.steps}, out ${d.logging.out}` +
      (world.size > 1
        ? `; ${world.size} ranks x ${o.batchSize / world.size} samples, NN queue ${d.distributed.nnQueue}, BN buffers ${d.distributed.bnBuffers}`
        : ''),
  );
  if (backend.name === 'webgpu') log(`[${d.name}] webgpu: ${backend.reason}`);
  await metrics.write({
    type: 'run',
    time: new Date().toISOString(),
    name: d.name,
    startStep: state.step,
    ...(ck ? { resumedFrom: ck.dir } : {}),
    backend: backend.name,
    threads: backend.threads,
    model: d.model.preset,
    supervision: d.supervision.name,
    batchSize: d.optim.batchSize,
    microBatchSize: d.optim.microBatchSize,
    ranks: world.size,
    lastStep: d.optim.steps,
    parameters,
    shards: run.shards.length,
  });
}

// ---- stream ------------------------------------------------------------------------------------------------------

async function stream(run: Run): Promise<void> {
  const { d, parts, state, world } = run;
  const { supervision, model, trainer, tokenizer } = parts;
  const parallel = world.size > 1;
  const stats = normalisations[d.model.normalisation];
  const imageViews = supervision.imageViews.map((v) => viewPresets[v](model.config.vision.imageSize, stats));
  const textKeys: TextKey[] = supervision.textViews.flatMap((v) =>
    v === 'mlm' ? (['mlm', 'mlmLabels'] as TextKey[]) : [v],
  );
  const ctx = createContext({ counters: run.counters });
  const samples = trainingSamples({
    shards: run.shards,
    seed: d.seed,
    epochs: d.data.epochs,
    from: state.cursor,
    rank: world.rank,
    worldSize: world.size,
    imageViews,
    textViews: [...supervision.textViews],
    tokenizer,
    captionExtension: d.data.captionExtension,
    decodeConcurrency: d.data.decodeConcurrency,
    // under MPI the ranks agree on stopping at a step boundary (agreeOnSteps), so no rank ends its stream alone
    ...(parallel ? {} : { stop: run.stopping.signal }),
  });
  const stopRequested = () => run.stopping.signal.aborted;
  try {
    await runStages(
      ctx,
      samples(ctx),
      [
        batch(d.optim.batchSize / world.size, { dropLast: true }),
        assembleBatch({ imageViews: imageViews.length, textKeys }),
        // ranks step together: a batch is trained only when every rank has one and no rank asked to stop
        ...(parallel
          ? [agreeOnSteps({ world, stopRequested, onStop: (why) => why === 'stop' && run.stopping.abort() })]
          : []),
        // (data parallel: no batch pulled ahead, the ranks' vote above is a collective and must keep its place)
        trainStepStage({
          trainer,
          lastStep: d.optim.steps,
          stopRequested: parallel ? () => false : stopRequested,
          ...(parallel ? { overlap: false } : {}),
        }),
        tap((r: StepRecord) => {
          // data parallel: the step trained the global batch (every rank's samples)
          state.advance(r.samples * world.size, r.cursor);
          run.sessionSamples += r.samples * world.size;
          run.lastStepRecord = r;
        }),
        evaluateStage({ due: (step) => evaluationDue(d, step), evaluate: run.evaluateHook }),
        tap(async (r: StepRecord & { eval?: EvalResults }) => {
          await run.metrics.write(stepMetrics(r, world.size));
          if (r.eval) await recordEvaluation(run, r.step, r.eval);
        }),
        checkpointStage({
          due: (step) => d.checkpoint.every > 0 && step % d.checkpoint.every === 0,
          save: () => saveRunCheckpoint(run),
        }),
      ],
      drain(),
    );
  } catch (err) {
    // a stop that cut an evaluation short: the step's records are incomplete, the last checkpoint stays the resume point
    if (!(stopRequested() && (err as Error)?.name === 'AbortError')) throw err;
    run.stepIncomplete = true;
  }
}

function stepMetrics(r: StepRecord, ranks: number): StepMetricsRecord {
  return {
    type: 'step',
    step: r.step,
    time: new Date().toISOString(),
    loss: r.loss,
    parts: r.parts,
    lr: r.lr,
    gradNorm: r.gradNorm,
    logitScales: r.logitScales,
    samples: r.samples * ranks,
    samplesPerSec: r.samplesPerSec * ranks,
    dataWaitMs: r.dataWaitMs,
    computeMs: r.computeMs,
    wallMs: r.wallMs,
  };
}

async function evaluate(run: Run, step: number): Promise<void> {
  if (!run.evaluateHook) return;
  await recordEvaluation(run, step, await run.evaluateHook(step));
}

async function recordEvaluation(run: Run, step: number, results: EvalResults): Promise<void> {
  run.evals.push({ step, results });
  run.state.evaluatedStep = step;
  await run.metrics.write({ type: 'eval', step, time: new Date().toISOString(), results });
}

/** Save the run state as a checkpoint (a collective under MPI: rank 0 writes every rank's data cursor). */
async function saveRunCheckpoint(run: Run): Promise<string> {
  const { d, state, world, lead } = run;
  const ranks = world.size > 1 ? gatherCursors(world, state.cursor ?? { epoch: 0, samplesConsumed: 0 }) : undefined;
  let dir = join(checkpointRoot(d), checkpointDirName(state.step));
  if (lead) {
    await run.metrics.flush(); // the records of this step are on disk before its checkpoint
    dir = await saveCheckpoint(checkpointRoot(d), await state.toCheckpoint(ranks), d.checkpoint.keep);
  }
  if (world.size > 1) world.barrier(); // nobody starts the next step before the checkpoint is on disk
  run.savedStep = state.step;
  run.lastCheckpoint = dir;
  return dir;
}

// ---- rollback ----------------------------------------------------------------------------------------------------

async function rollBack(run: Run, request: RollbackRequest): Promise<void> {
  const { d, state, world, log } = run;
  const reason = request.message.replace(/^rollback requested: /, '');
  if (state.rollbacks >= d.optim.maxRollbacks)
    throw new TrainingHalt(request.step, `${reason} (after ${d.optim.maxRollbacks} rollbacks)`);
  const ck = await newestIntactCheckpoint(checkpointRoot(d), (line) => log(`[${d.name}] warning: ${line}`));
  if (!ck) throw new TrainingHalt(request.step, `${reason}, and there is no checkpoint to roll back to`);
  // the lr reduction accumulates over rollbacks (DeCLIP's solver scales warmup_lr by 0.997 each time)
  state.rollBack(ck, d.optim.rollbackLrFactor);
  if (world.size > 1) {
    await broadcastParameters(world, run.parts.model.store);
    world.barrier(); // every rank has read the checkpoint
  }
  run.savedStep = state.step;
  if (run.lead) {
    await removeCheckpointsAfter(checkpointRoot(d), state.step);
    await run.metrics.rewind(state.step);
    await run.metrics.write({
      type: 'rollback',
      time: new Date().toISOString(),
      atStep: request.step,
      toStep: state.step,
      lrScale: run.parts.trainer.lrScale,
      reason,
    });
  }
}

// ---- finish ------------------------------------------------------------------------------------------------------

async function finish(run: Run): Promise<void> {
  const { d, state } = run;
  const stoppedBy = state.step >= d.optim.steps ? 'steps' : run.stopping.signal.aborted ? 'signal' : ('data' as const);
  run.stoppedBy = stoppedBy;
  if (stoppedBy === 'data') {
    if (state.step === 0)
      throw new NoDataError(
        `data: no usable sample for a step of ${d.optim.batchSize} in ${run.shards.length} shard(s) (${run.counters.format()})`,
      );
    run.log(`[${d.name}] the data ended at step ${state.step}, before optim.steps ${d.optim.steps}`);
    // the evaluation at the end: the data ended between two scheduled evaluations
    if (d.eval.atEnd && state.evaluatedStep !== state.step) await evaluate(run, state.step);
  }
  const save = state.step > 0 && state.step !== run.savedStep && !run.stepIncomplete;
  if (save && (stoppedBy !== 'signal' || d.checkpoint.onSignal)) await saveRunCheckpoint(run);
}

async function summarise(run: Run): Promise<RunSummary> {
  const { d, state, backend } = run;
  const wallMs = performance.now() - run.started;
  const last = run.lastStepRecord;
  const summary: RunSummary = {
    outDir: d.logging.out,
    backend: `${backend.name} x${backend.threads}`,
    firstStep: run.firstStep,
    lastStep: state.step,
    stoppedBy: run.stoppedBy ?? 'data',
    samples: run.sessionSamples,
    wallMs,
    samplesPerSec: wallMs > 0 ? (run.sessionSamples * 1000) / wallMs : 0,
    lastLoss: last?.loss ?? NaN,
    lastParts: last?.parts ?? {},
    evals: run.evals,
    checkpoint: run.lastCheckpoint,
    rollbacks: state.rollbacks,
    counters: run.counters.toJSON(),
  };
  const status = summary.stoppedBy === 'signal' ? 'stopped' : 'finished';
  await run.metrics.write({ type: 'end', time: new Date().toISOString(), status, ...summary });
  run.dir?.setStatus(status, state.step, { stoppedBy: summary.stoppedBy });
  return summary;
}

async function failed(run: Run, err: unknown): Promise<void> {
  const error = (err as Error)?.message?.split('\n')[0] ?? String(err);
  try {
    await run.metrics.write({
      type: 'end',
      time: new Date().toISOString(),
      status: 'failed',
      lastStep: run.state.step,
      error,
    });
    run.dir?.setStatus('failed', run.state.step, { error });
  } catch {
    // the run failed; recording it is best effort
  }
}

async function close(run: Run): Promise<void> {
  try {
    await run.metrics.close();
  } finally {
    run.parts.dispose();
    run.dir?.close();
  }
}
