import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPipeline, tinyArgs } from '../helpers/run-pipeline-child.ts';

// An absurd learning rate (1e4) makes the tiny CLIP's loss NaN within a few steps.
const explode = [
  '--optim.base-lr',
  '1e4',
  '--optim.peak-lr',
  '1e4',
  '--optim.warmup-steps',
  '0',
  '--steps',
  '20',
  '--checkpoint-every',
  '1',
  '--micro-batch',
  '0',
];

test('nanPolicy rollback: reload the last checkpoint, lr x 0.997 (cumulative); stop after maxRollbacks', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'guard-rb-'));
  const run = await startPipeline(
    'pipelines/clip-yfcc15m.ts',
    tinyArgs('clip', out, [...explode, '--optim.max-rollbacks', '2']),
  );
  t.is(run.code, 1, run.stderr);
  const last = run.stderr.trim().split('\n').at(-1)!;
  t.regex(
    last,
    /^pipelines\/clip-yfcc15m\.ts: training stopped: non-finite loss \(NaN\) at step \d+ \(after 2 rollbacks\)$/,
  );
  const records = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const rollbacks = records.filter((r) => r.type === 'rollback');
  t.is(rollbacks.length, 2);
  t.is(rollbacks[0].lrScale, 0.997);
  t.true(Math.abs(rollbacks[1].lrScale - 0.997 * 0.997) < 1e-12);
  t.true(rollbacks.every((r) => r.toStep < r.atStep));
  const steps = records.filter((r) => r.type === 'step');
  t.true(
    steps.every((s) => Number.isFinite(s.loss)),
    'no non-finite step was logged as trained',
  );
  await rm(out, { recursive: true, force: true });
});

test('nanPolicy stop: one line naming the step stops the run; weights of the bad step are not saved', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'guard-stop-'));
  const run = await startPipeline(
    'pipelines/clip-yfcc15m.ts',
    tinyArgs('clip', out, [...explode, '--optim.nan-policy', 'stop']),
  );
  t.is(run.code, 1);
  const m = /training stopped: non-finite loss \(NaN\) at step (\d+)$/.exec(run.stderr.trim());
  t.truthy(m, run.stderr);
  const records = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(Math.max(...records.filter((r) => r.type === 'step').map((r) => r.step)), Number(m![1]) - 1);
  await rm(out, { recursive: true, force: true });
});

test('SIGTERM: finishes the step, saves a checkpoint, exits 143 (as shells expect) with the resume command', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'guard-sig-'));
  let sent = false;
  const run = await startPipeline(
    'pipelines/clip-yfcc15m.ts',
    tinyArgs('clip', out, ['--steps', '500', '--checkpoint-every', '0']),
    (chunk, child) => {
      if (!sent && /step 2\/500/.test(chunk)) {
        sent = true;
        child.kill('SIGTERM');
      }
    },
  );
  t.is(run.code, 143, run.stderr);
  const stopped = /stopped by signal at step (\d+)/.exec(run.stderr);
  t.truthy(stopped, run.stderr);
  t.regex(run.stderr, new RegExp(`checkpoint .*step-0+${stopped![1]}`));
  t.regex(run.stderr, /resume with: node pipelines\/clip-yfcc15m\.ts .* --resume latest/);
  await rm(out, { recursive: true, force: true });
});
