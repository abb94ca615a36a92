import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getCollective, mpiAddonAvailable } from '../../src/distributed/collective.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const haveMpirun = spawnSync('mpirun', ['--version']).status === 0;
const mpiReady = haveMpirun && mpiAddonAvailable();
const mpiEnv = {
  ...process.env,
  OMPI_ALLOW_RUN_AS_ROOT: '1',
  OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
  OMPI_MCA_rmaps_base_oversubscribe: '1',
};

/** Run `mpirun -np N node script args...`, collect its output, resolve on exit (the child is ours, killed by id). */
function mpirun(
  np: number,
  script: string,
  args: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('mpirun', ['-np', String(np), process.execPath, script, ...args], { cwd: root, env: mpiEnv });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

test('single-process collective is the identity outside a launcher', (t) => {
  const world = getCollective();
  t.is(world.kind, 'single');
  t.is(world.size, 1);
  t.deepEqual([...world.allreduceSum(new Float32Array([1, 2]))], [1, 2]);
  t.deepEqual([...world.allgather(new Int32Array([5]))], [5]);
});

const mpiTest = mpiReady ? test : test.skip;
if (!mpiReady)
  console.log(`# distributed: skipping MPI tests (${haveMpirun ? 'addon not built' : 'mpirun not installed'})`);

mpiTest('mpirun -np 2: all-reduce, all-gather, broadcast and barrier over MPI', async (t) => {
  const run = await mpirun(2, 'test/mpi/collectives-worker.ts');
  t.is(run.code, 0, run.stderr);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .sort((a, b) => a.rank - b.rank);
  t.is(lines.length, 2);
  for (const r of lines) {
    t.is(r.kind, 'mpi');
    t.is(r.size, 2);
    t.deepEqual(r.sum, [3, 30, 1]);
    t.deepEqual(r.mean, [0.5, 1]);
    t.deepEqual(r.max, [7, 0]);
    t.deepEqual(r.gathered, [0, 0.25, 0.5, 1, 1.25, 1.5]);
    t.deepEqual(r.bcast, [3, 1, 4, 1, 5]);
  }
});

mpiTest('a rank that dies stops the whole job with a clear message (no hang)', async (t) => {
  const run = await mpirun(2, 'test/mpi/collectives-worker.ts', ['die']);
  t.not(run.code, 0);
  t.true(run.ms < 30_000, `took ${run.ms} ms`);
  t.regex(run.stderr, /rank 1: simulated fatal error/);
  t.regex(run.stdout + run.stderr, /exited with non-zero status|aborted/);
});
