// Nothing lost, nothing counted twice: a run with evaluations and checkpoints is killed with SIGKILL (at random
// moments, and in the middle of an evaluation) and resumed with --resume latest each time; its metrics.jsonl then
// holds every step and every scheduled evaluation exactly once, with the values of an uninterrupted run.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBin, repoRoot, startPipeline, type ChildRun } from '../helpers/run-pipeline-child.ts';

const script = 'test/helpers/probe-eval-pipeline.ts';
const STEPS = 10;
const args = (out: string) => ['--out', out, '--steps', String(STEPS), '--eval.at-start', '--resume', 'latest'];
/** Steps evaluated: at the start, every 2 steps, at the end. */
const EVALS = [0, 2, 4, 6, 8, 10];

interface Metrics {
  steps: Array<{ step: number; loss: number; parts: Record<string, number>; lr: number }>;
  evals: Array<{ step: number; results: Record<string, number> }>;
}

async function metrics(out: string): Promise<Metrics> {
  const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return { steps: lines.filter((l) => l.type === 'step'), evals: lines.filter((l) => l.type === 'eval') };
}

interface Attempt extends ChildRun {
  /** ms from the start to the line announcing the run (start-up done). */
  readyMs: number;
  /** The last line the run printed. */
  last: string;
}

/**
 * Run the probe pipeline. `kill`: SIGKILL it `fraction` of the way into its start-up, or into the training it has
 * left (estimated from the step it resumed at, and shortened a little so that the kill lands before the run ends),
 * chosen by `duringStartUp`.
 */
function attempt(out: string, kill?: { fraction: number; duringStartUp: boolean }): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(nodeBin, [script, ...args(out)], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let readyMs = NaN;
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number) => {
      timer = setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), Math.max(0, ms));
    };
    if (kill?.duringStartUp) arm(kill.fraction * startupMs);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (Number.isNaN(readyMs) && /\[probe\] clip \/ tiny/.test(stderr)) {
        readyMs = Date.now() - started;
        const resumedAt = Number(/resumed from .* at step (\d+)/.exec(stderr)?.[1] ?? 0);
        if (kill && !kill.duringStartUp) arm(0.7 * kill.fraction * trainingMs * ((STEPS - resumedAt) / STEPS));
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, child, readyMs, last: stderr.trim().split('\n').at(-1) ?? '' });
    });
  });
}

let straight: Metrics;
/** ms of training (after start-up) of an uninterrupted run. */
let trainingMs = 0;
let startupMs = 0;
test.before(async () => {
  const out = await mkdtemp(join(tmpdir(), 'kill-straight-'));
  const t0 = Date.now();
  const run = await attempt(out);
  if (run.code !== 0) throw new Error(`the uninterrupted run failed: ${run.stderr}`);
  startupMs = run.readyMs;
  trainingMs = Date.now() - t0 - run.readyMs;
  straight = await metrics(out);
  const record = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
  if (record.status !== 'finished' || record.step !== STEPS) throw new Error(`run.json: ${JSON.stringify(record)}`);
  await rm(out, { recursive: true, force: true });
});

function sameAsStraight(t: ExecutionContext, got: Metrics) {
  t.deepEqual(
    got.steps.map((s) => s.step),
    Array.from({ length: STEPS }, (_, i) => i + 1),
    'every step exactly once, in order',
  );
  t.deepEqual(
    got.evals.map((e) => e.step),
    EVALS,
    'every scheduled evaluation exactly once, in order',
  );
  t.deepEqual(
    straight.evals.map((e) => e.step),
    EVALS,
  );
  for (const [i, s] of got.steps.entries()) {
    const w = straight.steps[i];
    t.true(Math.abs(s.loss - w.loss) <= 1e-6, `step ${s.step}: loss ${s.loss} vs ${w.loss}`);
    t.is(s.lr, w.lr);
    for (const [p, v] of Object.entries(w.parts)) t.true(Math.abs(v - s.parts[p]) <= 1e-6, `step ${s.step} ${p}`);
  }
  for (const [i, e] of got.evals.entries())
    for (const [k, v] of Object.entries(straight.evals[i].results))
      t.true(
        Math.abs(v - e.results[k]) <= 1e-6 * Math.max(1, Math.abs(v)),
        `eval @ ${e.step} ${k}: ${e.results[k]} vs ${v}`,
      );
}

test.serial('SIGKILL in the middle of an evaluation at a checkpoint step: no gap after the resume', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'kill-eval-'));
  const killed = await startPipeline(script, args(out), (chunk, child) => {
    if (/EVAL-START 6\n/.test(chunk) && child.exitCode === null) child.kill('SIGKILL');
  });
  t.is(killed.signal, 'SIGKILL', killed.stderr);
  const resumed = await startPipeline(script, args(out));
  t.is(resumed.code, 0, resumed.stderr);
  sameAsStraight(t, await metrics(out));
  await rm(out, { recursive: true, force: true });
});

test.serial('N random SIGKILLs at any point of a run, each followed by --resume latest', async (t) => {
  const N = 5;
  const seed = Number(process.env.KILL_SEED ?? Date.now() % 100000);
  let x = seed;
  const random = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  t.log(
    `kill seed ${seed} (KILL_SEED=${seed} repeats these kills); start-up ${startupMs} ms, training ${trainingMs} ms`,
  );
  const out = await mkdtemp(join(tmpdir(), 'kill-random-'));
  let kills = 0;
  let finished: ChildRun | undefined;
  while (kills < N) {
    // mostly during training (steps, evaluations, checkpoints), sometimes during start-up
    const duringStartUp = random() < 0.15;
    const fraction = random();
    const run = await attempt(out, { fraction, duringStartUp });
    if (run.signal === 'SIGKILL') {
      kills++;
      t.log(
        `kill ${kills}: ${(100 * fraction).toFixed(0)}% into ${duringStartUp ? 'start-up' : 'the training left'}; last output: ${run.last.slice(0, 80)}`,
      );
    } else {
      t.is(run.code, 0, run.stderr);
      finished = run;
      break;
    }
  }
  finished ??= await startPipeline(script, args(out));
  t.is(finished.code, 0, finished.stderr);
  t.true(kills >= 3, `${kills} kills landed`);
  sameAsStraight(t, await metrics(out));
  await rm(out, { recursive: true, force: true });
});
