// Data-parallel runs of a real pipeline under `mpirun -np 2` (tiny DeCLIP on the demo shards, NN queue global):
// a rank that dies mid-run stops the whole job with a clear message (no hang), and `--resume latest` continues from
// the last checkpoint on every rank, reproducing the per-step losses of an uninterrupted 2-rank run.
// The fault is injected with CLIP_BENCH_INJECT_FAULT=RANK@STEP (src/distributed/data-parallel.ts; tests only).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mpiAddonAvailable } from '../../src/distributed/collective.ts';
import { listCheckpoints, loadCheckpoint } from '../../src/train/checkpoint-format.ts';
import { repoRoot, nodeBin, tinyArgs } from '../helpers/run-pipeline-child.ts';

const mpiReady = spawnSync('mpirun', ['--version']).status === 0 && mpiAddonAvailable();
const baseEnv = {
  ...process.env,
  CLIP_BENCH_YFCC15M: '',
  OMPI_ALLOW_RUN_AS_ROOT: '1',
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  OMPI_MCA_rmaps_base_oversubscribe: '1',
};

function mpirunPipeline(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('mpirun', ['-np', '2', nodeBin, 'pipelines/declip-yfcc15m.ts', ...args], {
      cwd: repoRoot,
      env: { ...baseEnv, ...env },
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

async function stepLosses(out: string): Promise<Map<number, { loss: number; parts: Record<string, number> }>> {
  const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return new Map(lines.filter((l) => l.type === 'step').map((l) => [l.step, { loss: l.loss, parts: l.parts }]));
}

const mpiTest = mpiReady ? test : test.skip;

mpiTest(
  'a dying rank stops the job with a clear message; --resume latest continues on every rank exactly',
  async (t) => {
    const N = 6;
    const straight = await mkdtemp(join(tmpdir(), 'dp-straight-'));
    const faulty = await mkdtemp(join(tmpdir(), 'dp-faulty-'));
    const args = (out: string, extra: string[] = []) =>
      tinyArgs('declip', out, ['--steps', String(N), '--checkpoint-every', '2', '--micro-batch', '0', ...extra]);

    const a = await mpirunPipeline(args(straight));
    t.is(a.code, 0, a.output);
    t.regex(a.output, /2 ranks x 4 samples, NN queue global/);

    // rank 1 is killed (SIGKILL) at the start of step 5: checkpoints of steps 2 and 4 exist
    const b = await mpirunPipeline(args(faulty), { CLIP_BENCH_INJECT_FAULT: '1@5' });
    t.not(b.code, 0);
    t.true(b.ms < 60_000, `the job stopped after ${b.ms} ms`);
    t.regex(b.output, /rank 1: injected fault/);
    t.regex(b.output, /mpirun noticed that process rank 1 .* exited on signal 9|exited on signal 9 \(Killed\)/s);
    const saved = (await listCheckpoints(join(faulty, 'checkpoints'))).map((c) => c.step);
    t.deepEqual(saved, [2, 4]);
    const ck = await loadCheckpoint(join(faulty, 'checkpoints', 'step-000000004'));
    const ranks = (ck.state.data as unknown as { ranks: Array<{ samplesConsumed: number }> }).ranks;
    t.is(ranks.length, 2, "the checkpoint holds both ranks' data cursors");

    const c = await mpirunPipeline(args(faulty, ['--resume', 'latest']));
    t.is(c.code, 0, c.output);
    t.regex(c.output, /resumed from .*step-000000004 at step 4/);

    const want = await stepLosses(straight);
    const got = await stepLosses(faulty);
    t.deepEqual(
      [...got.keys()].sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6],
    );
    for (let s = 1; s <= N; s++) {
      const w = want.get(s)!;
      const g = got.get(s)!;
      t.true(Math.abs(w.loss - g.loss) <= 1e-6, `step ${s}: loss ${g.loss} vs ${w.loss}`);
      for (const [p, v] of Object.entries(w.parts))
        t.true(Math.abs(v - g.parts[p]) <= 1e-6, `step ${s} ${p}: ${g.parts[p]} vs ${v}`);
    }
    await rm(straight, { recursive: true, force: true });
    await rm(faulty, { recursive: true, force: true });
  },
);

mpiTest('a checkpoint from 2 ranks refuses to resume with a different number of ranks', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'dp-ranks-'));
  const first = await mpirunPipeline(tinyArgs('declip', out, ['--steps', '1', '--micro-batch', '0']));
  t.is(first.code, 0, first.output);
  const single = spawnSync(
    nodeBin,
    [
      'pipelines/declip-yfcc15m.ts',
      ...tinyArgs('declip', out, ['--steps', '2', '--micro-batch', '0', '--resume', 'latest']),
    ],
    { cwd: repoRoot, env: baseEnv, encoding: 'utf8' },
  );
  t.is(single.status, 1);
  t.regex(single.stderr, /was written by 2 ranks, this job has 1 \(launch with mpirun -np 2\)/);
  await rm(out, { recursive: true, force: true });
});
