import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoShards, startPipeline, tinyArgs } from '../helpers/run-pipeline-child.ts';

const heldout = fileURLToPath(new URL('../../fixtures/demo/heldout-000000.tar', import.meta.url));
const prompts = fileURLToPath(new URL('../../fixtures/demo/zero-shot.json', import.meta.url));

const methods = ['clip', 'declip', 'slip', 'filip', 'defilip'] as const;
const expectedParts: Record<string, string[]> = {
  clip: ['clip'],
  declip: ['mv', 'simsiam', 'mlm', 'nn'],
  slip: ['clip', 'simclr'],
  filip: ['filip'],
  defilip: ['mv', 'simsiam', 'mlm', 'nn', 'filip'],
};

for (const method of methods) {
  test(`${method}-yfcc15m runs 3 steps of a tiny model on the fixtures with finite loss parts`, async (t) => {
    const out = await mkdtemp(join(tmpdir(), `pipe-${method}-`));
    // FILIP also runs its (dense, token-wise) zero-shot evaluation on the held-out fixtures
    const evalArgs =
      method === 'filip'
        ? ['--eval.shards', heldout, '--eval.prompts', prompts, '--eval.dataset', 'demo-color', '--eval-every', '2']
        : [];
    const run = await startPipeline(
      `pipelines/${method}-yfcc15m.ts`,
      tinyArgs(method, out, ['--steps', '3', ...evalArgs]),
    );
    t.is(run.code, 0, run.stderr);
    const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const steps = lines.filter((l) => l.type === 'step');
    t.deepEqual(
      steps.map((s) => s.step),
      [1, 2, 3],
    );
    for (const s of steps) {
      t.true(Number.isFinite(s.loss), `step ${s.step} loss ${s.loss}`);
      for (const p of expectedParts[method])
        t.true(Number.isFinite(s.parts[p]), `step ${s.step}: part ${p} = ${s.parts[p]}`);
      t.true(s.lr > 0 && s.samplesPerSec > 0 && s.dataWaitMs >= 0);
      t.true(
        Object.values(s.logitScales as Record<string, number>).every(
          (v) => v >= Math.exp(3) - 1e-3 && v <= Math.exp(6) + 1e-3,
        ),
        'logit scales clamped to [e^3, e^6]',
      );
    }
    t.is(steps[0].lr, 1e-4, 'seed schedule starts at base lr 1e-4');
    const run0 = lines.find((l) => l.type === 'run');
    t.is(run0.supervision, method);
    t.regex(run.stderr, new RegExp(`\\[${method}-yfcc15m\\] done at step 3`));
    if (method === 'filip') {
      const evals = lines.filter((l) => l.type === 'eval');
      t.deepEqual(
        evals.map((e) => e.step),
        [2, 3],
        'every 2 steps and at the end',
      );
      for (const e of evals)
        t.true(
          e.results['demo-color/acc1'] >= 0 &&
            e.results['demo-color/acc1'] <= 1 &&
            e.results['demo-color/chance'] === 1 / 8,
        );
    }
    await rm(out, { recursive: true, force: true });
  });
}

test('without data a YFCC-15M pipeline stops with one line saying how to get shards', async (t) => {
  const run = await startPipeline('pipelines/defilip-yfcc15m.ts', []);
  t.is(run.code, 3);
  const lines = run.stderr.trim().split('\n');
  t.is(lines.length, 1, run.stderr);
  t.regex(
    lines[0],
    new RegExp(
      String.raw`no YFCC-15M shards: pass --data .* or set CLIP_BENCH_YFCC15M; ` +
        String.raw`.*pipelines/yfcc15m-shards\.ts.*pipelines/make-shards\.ts`,
    ),
  );
});

test('a bad flag is one line naming the field', async (t) => {
  const run = await startPipeline('pipelines/clip-yfcc15m.ts', ['--batch-size', 'lots']);
  t.is(run.code, 2);
  t.is(
    run.stderr.trim(),
    'pipelines/clip-yfcc15m.ts: --batch-size: optim.batchSize must be an integer >= 1, got "lots"',
  );
});

test('swapping the supervision in one flag: the demo (DeFILIP options) runs as CLIP with --supervision clip', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'pipe-swap-'));
  const run = await startPipeline('pipelines/demo.ts', [
    '--supervision',
    'clip',
    '--steps',
    '1',
    '--batch-size',
    '8',
    '--eval.at-end',
    'false',
    '--backend',
    'wasm',
    '--threads',
    '1',
    '--out',
    out,
  ]);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stderr, /\[demo\] clip \/ tiny .*\n[\s\S]*\[demo\] done at step 1: loss \d/);
  await rm(out, { recursive: true, force: true });
});

test('an unknown model preset is a bad declaration: one line, exit code 2', async (t) => {
  const run = await startPipeline('pipelines/clip-yfcc15m.ts', ['--model', 'vit-huge', '--data', demoShards]);
  t.is(run.code, 2);
  t.regex(
    run.stderr.trim(),
    /^pipelines\/clip-yfcc15m\.ts: model\.preset: unknown model "vit-huge" \(known: [^\n]*\)$/,
  );
});
