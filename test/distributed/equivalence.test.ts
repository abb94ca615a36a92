// Data-parallel equivalence: `mpirun -np 2` with per-rank batch B/2 computes the same steps as
// one process with batch B, for CLIP (with gradient-cache micro-batches), DeCLIP (NN queue global, ghost BN B/2 in the
// 1-rank run), FILIP and, in a run of its own, SigLIP. The worker (test/mpi/equivalence-worker.ts) feeds both runs the
// same deterministic global batches and reports the differences; plain DDP (local losses, averaged gradients) is the
// negative control.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mpiAddonAvailable } from '../../src/distributed/collective.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const mpiReady = spawnSync('mpirun', ['--version']).status === 0 && mpiAddonAvailable();
const mpiEnv = {
  ...process.env,
  OMPI_ALLOW_RUN_AS_ROOT: '1',
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  OMPI_MCA_rmaps_base_oversubscribe: '1',
  CLIP_BENCH_BACKEND: process.env.CLIP_BENCH_BACKEND ?? 'wasm',
};

function mpirun(np: number, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('mpirun', ['-np', String(np), process.execPath, ...args], { cwd: root, env: mpiEnv });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface Report {
  rank: number;
  size: number;
  name: string;
  micro: number;
  nnQueue: string;
  buckets: number;
  queueDiff?: number;
  dpLosses: number[];
  refLosses: number[];
  weightsL2: number;
  worstWeight: number;
  worstName: string;
  worstBuffer: number;
  worstGradStep1: number;
  worstGradStep1Name: string;
  divergence: number;
  dpTensorCounts: number[];
  ddpLosses?: number[];
  ddpWorstWeight?: number;
  ddpWeightsL2?: number;
}

const mpiTest = mpiReady ? test : test.skip;
const mpiSerial = mpiReady ? test.serial : test.serial.skip;

mpiSerial('2 ranks x B/2 = 1 rank x B: same losses, gradients and weights for CLIP, DeCLIP and FILIP', async (t) => {
  // 3 steps, global batch 8; CLIP with micro-batches of 2 (gradient cache across ranks), AdamW as the seed (eps 1e-8);
  // then CLIP with 4 KiB gradient buckets and DeCLIP with per-rank NN queues (checked in the next test)
  const run = await mpirun(2, [
    'test/mpi/equivalence-worker.ts',
    '3',
    '8',
    '1e-8',
    'clip:2',
    'declip',
    'filip',
    'clip:0:global:4096',
    'declip:0:per-rank',
  ]);
  t.is(run.code, 0, run.stderr);
  all = run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Report);
  t.is(all.length, 10);
  const reports = all.filter((r) => r.nnQueue === 'global');
  for (const r of reports) {
    const tag = `${r.name} rank ${r.rank}`;
    t.is(r.size, 2);
    r.dpLosses.forEach((l, i) =>
      t.true(
        Math.abs(l - r.refLosses[i]) <= 1e-5 * Math.abs(r.refLosses[i]),
        `${tag} step ${i + 1}: loss ${l} vs ${r.refLosses[i]}`,
      ),
    );
    // same weights at step 1 -> the all-reduced gradient equals the 1-rank gradient (per tensor, relative to its max)
    t.true(r.worstGradStep1 <= 1e-5, `${tag}: step-1 gradient ${r.worstGradStep1Name} differs by ${r.worstGradStep1}`);
    // every rank holds bit-identical parameters (same all-reduced gradients, same AdamW step)
    t.is(r.divergence, 0, `${tag}: replicas diverged`);
    t.true(
      r.dpTensorCounts.every((n) => n === r.dpTensorCounts[0]),
      `${tag}: tensor count grows over steps (${r.dpTensorCounts})`,
    );
    // weights after 3 AdamW steps, over coordinates whose exact gradient is not zero (the worker skips attention key
    // biases and biases feeding a BatchNorm): relative L2 over the model within 1e-5; per tensor (max |diff| / max |w|)
    // within 1e-5 for CLIP, 1e-3 for DeCLIP / FILIP, because Adam turns float-rounding differences of small gradients
    // into steps of size ~lr (docs/distributed.md "Equivalence")
    t.true(r.weightsL2 <= 1e-5, `${tag}: weights differ by ${r.weightsL2} (relative L2 over the model)`);
    t.true(
      r.worstWeight <= (r.name === 'clip' ? 1e-5 : 1e-3),
      `${tag}: weights ${r.worstName} differ by ${r.worstWeight}`,
    );
    t.true(r.worstBuffer <= 1e-3, `${tag}: BN running statistics differ by ${r.worstBuffer}`);
    if (r.name === 'clip' && r.buckets === 1) {
      // the negative control has teeth: without gathered negatives the losses and weights are different
      t.true(
        Math.abs(r.ddpLosses![0] - r.refLosses[0]) > 0.05 * r.refLosses[0],
        `plain DDP loss ${r.ddpLosses![0]} vs ${r.refLosses[0]}`,
      );
      t.true(
        r.ddpWorstWeight! > 0.1 && r.ddpWeightsL2! > 1e-3,
        `plain DDP weights differ by only ${r.ddpWorstWeight} / ${r.ddpWeightsL2}`,
      );
    }
  }
  t.deepEqual(new Set(reports.map((r) => r.name)), new Set(['clip', 'declip', 'filip']));
  t.true(
    reports.some((r) => r.buckets > 30),
    'the small-bucket run used many all-reduce buckets',
  );
  for (const r of reports.filter((x) => x.name === 'declip'))
    t.is(r.queueDiff, 0, 'global NN queue: identical on every rank');
});

let all: Report[] = [];

mpiSerial('NN queue per rank (the seed): each rank enqueues its own rows, so queues and later losses differ', (t) => {
  const perRank = all.filter((r) => r.nnQueue === 'per-rank');
  t.is(perRank.length, 2);
  for (const r of perRank) {
    // step 1 looks up the identical initial queues; afterwards each rank's queue holds only its own texts
    t.true(Math.abs(r.dpLosses[0] - r.refLosses[0]) <= 1e-5 * r.refLosses[0]);
    t.true(
      Math.abs(r.dpLosses[2] - r.refLosses[2]) > 1e-4,
      `step 3 loss ${r.dpLosses[2]} vs the global-queue run ${r.refLosses[2]}`,
    );
  }
  t.is(perRank.find((r) => r.rank === 0)!.queueDiff, 0);
  t.true(perRank.find((r) => r.rank === 1)!.queueDiff! > 0.01, 'rank 1 holds a different queue than rank 0');
});

mpiSerial(
  'SigLIP: 2 ranks x B/2 = 1 rank x B with micro-batches (the bias, like the scale, is used by the loss)',
  async (t) => {
    const run = await mpirun(2, ['test/mpi/equivalence-worker.ts', '3', '8', '1e-8', 'siglip:2']);
    t.is(run.code, 0, run.stderr);
    const reports = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Report);
    t.deepEqual(
      reports.map((r) => [r.name, r.size]),
      [
        ['siglip', 2],
        ['siglip', 2],
      ],
    );
    for (const r of reports) {
      const tag = `siglip rank ${r.rank}`;
      r.dpLosses.forEach((l, i) =>
        t.true(
          Math.abs(l - r.refLosses[i]) <= 1e-5 * Math.abs(r.refLosses[i]),
          `${tag} step ${i + 1}: ${l} vs ${r.refLosses[i]}`,
        ),
      );
      t.true(
        r.worstGradStep1 <= 1e-5,
        `${tag}: step-1 gradient ${r.worstGradStep1Name} differs by ${r.worstGradStep1}`,
      );
      t.is(r.divergence, 0, `${tag}: replicas diverged`);
      // as for DeCLIP / FILIP above: 1e-5 over the model, 1e-3 per tensor after 3 Adam steps
      t.true(r.weightsL2 <= 1e-5, `${tag}: weights differ by ${r.weightsL2} (relative L2 over the model)`);
      t.true(r.worstWeight <= 1e-3, `${tag}: weights ${r.worstName} differ by ${r.worstWeight}`);
    }
  },
);

mpiTest('ranks with different local batch sizes get the same clear error (no hang, no garbage)', async (t) => {
  const run = await mpirun(2, ['test/mpi/equivalence-worker.ts', 'mismatch']);
  t.is(run.code, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { rank: number; error: string | null });
  t.is(lines.length, 2);
  for (const l of lines)
    t.regex(
      l.error ?? '',
      /feature "image" is \[\d,8\] on rank \d but \[\d,8\] on rank \d; every rank needs the same local batch size/,
    );
});
