// A benchmark cell trained data-parallel: `mpirun -np 2 node pipelines/benchmark.ts GRID` trains each cell on both
// ranks (4 + 4 samples per step, each rank reading its own split of the shards) and rank 0 alone evaluates and
// writes. (That 2 ranks compute the steps of 1 process with the whole batch is test/distributed/equivalence.test.ts.)
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mpiAddonAvailable } from '../../src/distributed/collective.ts';
import { repoRoot, nodeBin } from '../helpers/run-pipeline-child.ts';

const mpiReady = spawnSync('mpirun', ['--version']).status === 0 && mpiAddonAvailable();
const mpiTest = mpiReady ? test : test.skip;
const cell = 'clean_base_clip_s0';
const args = (out: string) => ['test/helpers/tiny-grid.ts', '--out', out, '--only', `cell=${cell}`];

function mpirun(argv: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('mpirun', ['-np', '2', nodeBin, 'pipelines/benchmark.ts', ...argv], {
      cwd: repoRoot,
      env: {
        ...process.env,
        OMPI_ALLOW_RUN_AS_ROOT: '1',
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
        OMPI_MCA_rmaps_base_oversubscribe: '1',
      },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

mpiTest(
  'mpirun -np 2: every rank trains each cell on its share of the batch, rank 0 alone evaluates and writes',
  async (t) => {
    const out = await mkdtemp(join(tmpdir(), 'bench-mpi-'));
    const run = await mpirun(args(out));
    t.is(run.code, 0, run.output);
    t.regex(run.output, /1 of 4 cells, 2 ranks each/);
    t.is((run.output.match(/1\/1 clean_base_clip_s0: done/g) ?? []).length, 1, 'rank 0 alone reports');
    t.true(existsSync(join(out, 'cells', cell, 'cell.json')));
    const lines = (await readFile(join(out, 'cells', cell, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    t.is(lines.find((l) => l.type === 'run').ranks, 2);
    const steps = lines.filter((l) => l.type === 'step');
    t.deepEqual(
      steps.map((l) => [l.step, l.samples]),
      [
        [1, 8],
        [2, 8],
        [3, 8],
      ],
      'each step trained the global batch of 8 (4 per rank)',
    );
    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    t.is(csv.length, 3, 'header + step 0 + step 3, written once');
    await rm(out, { recursive: true, force: true });
  },
);
