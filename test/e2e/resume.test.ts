import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPipeline, tinyArgs } from '../helpers/run-pipeline-child.ts';
import { listCheckpoints } from '../../src/train/checkpoint-format.ts';

async function stepLosses(
  out: string,
): Promise<Map<number, { loss: number; parts: Record<string, number>; lr: number }>> {
  const lines = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return new Map(
    lines.filter((l) => l.type === 'step').map((l) => [l.step, { loss: l.loss, parts: l.parts, lr: l.lr }]),
  );
}

// DeCLIP exercises every piece of resumable state: weights, AdamW moments, BN running statistics in the SimSiam
// heads, the NN queue and its pointer, the MLM/EDA text views and the data cursor.
test('exact resume: SIGKILL after step k, --resume latest reproduces the uninterrupted per-step losses', async (t) => {
  const N = 7;
  const k = 3;
  const method = 'declip';
  const script = `pipelines/${method}-yfcc15m.ts`;
  const straight = await mkdtemp(join(tmpdir(), 'resume-a-'));
  const killed = await mkdtemp(join(tmpdir(), 'resume-b-'));
  const common = (out: string, extra: string[]) =>
    tinyArgs(method, out, ['--steps', String(N), '--checkpoint-every', '1', ...extra]);

  const [a, b] = await Promise.all([
    startPipeline(script, common(straight, [])),
    startPipeline(script, common(killed, []), (_chunk, child) => {
      // kill (by its handle) as soon as step k has been logged: a step's records are written before its checkpoint,
      // so the newest checkpoint is that of step k - 1, or of step k if its save was quick
      if (new RegExp(`step ${k}/${N}`).test(_chunk) && child.exitCode === null) child.kill('SIGKILL');
    }),
  ]);
  t.is(a.code, 0, a.stderr);
  t.is(b.signal, 'SIGKILL', `the second run was killed (${b.code} ${b.stderr})`);
  const saved = (await listCheckpoints(join(killed, 'checkpoints'))).map((c) => c.step);
  t.true(saved.includes(k - 1), `checkpoint of step ${k - 1} exists (${saved})`);
  t.false(
    saved.some((s) => s >= N),
    'the killed run did not finish',
  );

  const resumed = await startPipeline(script, common(killed, ['--resume', 'latest']));
  t.is(resumed.code, 0, resumed.stderr);
  t.regex(resumed.stderr, new RegExp(`resumed from .*step-0+${saved.at(-1)} at step ${saved.at(-1)}`));

  const want = await stepLosses(straight);
  const got = await stepLosses(killed);
  t.deepEqual(
    [...got.keys()].sort((x, y) => x - y),
    [...want.keys()].sort((x, y) => x - y),
  );
  for (let s = 1; s <= N; s++) {
    const w = want.get(s)!;
    const g = got.get(s)!;
    t.true(Math.abs(w.loss - g.loss) <= 1e-6, `step ${s}: loss ${g.loss} vs ${w.loss}`);
    for (const [p, v] of Object.entries(w.parts))
      t.true(Math.abs(v - g.parts[p]) <= 1e-6, `step ${s} ${p}: ${g.parts[p]} vs ${v}`);
    t.is(g.lr, w.lr);
  }
  // the steps after the resume point really were recomputed by the resumed process (not left over)
  t.true(got.size === N);
  await rm(straight, { recursive: true, force: true });
  await rm(killed, { recursive: true, force: true });
});
