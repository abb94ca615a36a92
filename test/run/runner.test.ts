// run/runner.ts in process: rollback on a non-finite loss (the lr reduction accumulates, metrics are rewound to the
// checkpoint, the run stops after maxRollbacks), the step-0 evaluation, the run's status, a programmatic stop.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, shutdownBackend } from '../../src/backend.ts';
import { validateDeclaration } from '../../run/validate.ts';
import { runPipeline } from '../../run/runner.ts';
import { readRunStatus } from '../../run/run-directory.ts';
import { listCheckpoints } from '../../src/train/checkpoint-format.ts';
import { TrainingHalt } from '../../src/train/halt.ts';
import type { EvaluateHook } from '../../run/declaration.ts';
import { demoShards, demoVocab } from '../helpers/run-pipeline-child.ts';

test.before(async () => {
  await initBackend({ backend: 'wasm', threads: 1, quiet: true });
});
test.after.always(() => shutdownBackend());

const declaration = (out: string, extra: { optim?: object; eval?: object; checkpoint?: object } = {}) =>
  validateDeclaration({
    name: 'runner',
    data: { shards: demoShards, decodeConcurrency: 2 },
    model: { preset: 'tiny' },
    text: { vocabPath: demoVocab, contextLength: 16 },
    optim: { batchSize: 8, microBatchSize: 0, steps: 6, warmupSteps: 1, totalSteps: 6, ...extra.optim },
    eval: { every: 0, atEnd: false, ...extra.eval },
    checkpoint: { every: 2, keep: 3, ...extra.checkpoint },
    logging: { out, progress: 'none' },
    backend: { name: 'wasm', threads: 1 },
  });

const records = async (out: string) =>
  (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test.serial('a non-finite loss rolls back to the last checkpoint with lr x 0.997 each time, then stops', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'runner-rollback-'));
  // an absurd learning rate: the weights blow up within a few steps
  const d = declaration(out, {
    optim: { steps: 40, totalSteps: 40, warmupSteps: 0, peakLr: 1e4, maxRollbacks: 2 },
    checkpoint: { every: 1 },
  });
  const lines: string[] = [];
  const err = await t.throwsAsync(runPipeline(d, { log: (l) => lines.push(l) }), { instanceOf: TrainingHalt });
  t.regex(err!.message, /^training stopped: non-finite loss .* \(after 2 rollbacks\)$/);
  const r = await records(out);
  const rollbacks = r.filter((x) => x.type === 'rollback');
  t.is(rollbacks.length, 2);
  t.deepEqual(
    rollbacks.map((x) => x.lrScale),
    [0.997, 0.997 * 0.997],
    'the lr reduction accumulates over rollbacks',
  );
  const { atStep, toStep } = rollbacks[0];
  t.true(toStep >= 1 && atStep > toStep, `rolled back from step ${atStep} to ${toStep}`);
  t.deepEqual(
    r.filter((x) => x.type === 'step').map((x) => x.step),
    Array.from({ length: toStep }, (_, i) => i + 1),
    'the steps after the checkpoint were rewound and recomputed (no step twice)',
  );
  t.deepEqual((await listCheckpoints(join(out, 'checkpoints'))).map((c) => c.step).at(-1), toStep);
  t.like(r.at(-1), { type: 'end', status: 'failed' });
  t.like(readRunStatus(out), { status: 'failed', step: toStep });
  await rm(out, { recursive: true, force: true });
});

test.serial('eval.atStart records the untrained model as step 0; run.json says finished', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'runner-atstart-'));
  const steps: number[] = [];
  const hook: EvaluateHook = async ({ step }) => {
    steps.push(step);
    return { 'probe/step': step };
  };
  const s = await runPipeline(declaration(out, { eval: { atStart: true, every: 4, atEnd: true, evaluate: hook } }), {
    log: () => {},
  });
  t.deepEqual(steps, [0, 4, 6]);
  t.deepEqual(
    s.evals.map((e) => e.step),
    [0, 4, 6],
  );
  const evals = (await records(out)).filter((x) => x.type === 'eval');
  t.deepEqual(
    evals.map((e) => [e.step, e.results['probe/step']]),
    [
      [0, 0],
      [4, 4],
      [6, 6],
    ],
  );
  t.like(readRunStatus(out), { status: 'finished', step: 6 });
  t.like(JSON.parse(await readFile(join(out, 'run.json'), 'utf8')), { stoppedBy: 'steps' });
  await rm(out, { recursive: true, force: true });
});

test.serial('a stop finishes the step, saves a checkpoint and says so; the run is "stopped"', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'runner-stop-'));
  const stop = new AbortController();
  const hook: EvaluateHook = async ({ step }) => {
    if (step === 3) stop.abort(new Error('stopped by SIGINT'));
    return { x: step };
  };
  const lines: string[] = [];
  const s = await runPipeline(
    declaration(out, {
      optim: { steps: 50, totalSteps: 50 },
      eval: { every: 3, evaluate: hook },
      checkpoint: { every: 10 },
    }),
    { stop: stop.signal, log: (l) => lines.push(l) },
  );
  t.is(s.stoppedBy, 'signal');
  t.is(s.lastStep, 3);
  t.deepEqual(
    (await listCheckpoints(join(out, 'checkpoints'))).map((c) => c.step),
    [3],
  );
  t.true(
    lines.some((l) => /stopped by SIGINT: finishing the current step, saving a checkpoint, then stopping/.test(l)),
  );
  t.like(readRunStatus(out), { status: 'stopped', step: 3 });
  await rm(out, { recursive: true, force: true });
});
