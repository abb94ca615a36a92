// A run directory holds one run, one process at a time; start-up checks fail before training; signals and empty
// data give the exit codes shells expect; a stalled shard read does not block Ctrl-C; repeated keys in a shard
// do not break the data cursor.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCheckpoints } from '../../src/train/checkpoint-format.ts';
import { createContext, runStages } from '../../stages/core/stage.ts';
import { readShards } from '../../stages/webdataset/read-shards.ts';
import { writeShards } from '../../stages/webdataset/write-shards.ts';
import { demoShards, nodeBin, repoRoot, startPipeline, tinyArgs } from '../helpers/run-pipeline-child.ts';

const script = 'pipelines/clip-yfcc15m.ts';
const heldout = fileURLToPath(new URL('../../fixtures/demo/heldout-000000.tar', import.meta.url));
const prompts = fileURLToPath(new URL('../../fixtures/demo/zero-shot.json', import.meta.url));
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `${name}-`));
const metricsOf = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8');
const stepsOf = (out: string) =>
  metricsOf(out)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'step');

test('a run of another configuration is refused in a run directory, which stays as it was (exit 2)', async (t) => {
  const out = tmp('config');
  const first = await startPipeline(script, tinyArgs('clip', out, ['--steps', '1']));
  t.is(first.code, 0, first.stderr);
  const before = metricsOf(out);
  const other = await startPipeline(script, tinyArgs('clip', out, ['--steps', '1', '--batch-size', '16']));
  t.is(other.code, 2);
  t.regex(other.stderr.trim(), /holds a run of another configuration \(optim\.batchSize is 8 there, 16 here\)[^\n]*$/);
  const resumeOther = await startPipeline(script, tinyArgs('clip', out, ['--seed', '1', '--resume', 'latest']));
  t.is(resumeOther.code, 2);
  t.regex(resumeOther.stderr, /cannot resume .*seed is 0 there, 1 here/);
  const again = await startPipeline(script, tinyArgs('clip', out, ['--steps', '1']));
  t.is(again.code, 2);
  t.regex(again.stderr, /already holds this run \(finished at step 1\): --resume latest continues it/);
  t.is(metricsOf(out), before, 'metrics untouched');
  const more = await startPipeline(script, tinyArgs('clip', out, ['--steps', '2', '--resume', 'latest']));
  t.is(more.code, 0, more.stderr);
  t.deepEqual(
    stepsOf(out).map((s) => s.step),
    [1, 2],
  );
});

test('two runs in one directory: the second is refused while the first runs; SIGTERM saves and exits 143', async (t) => {
  const out = tmp('lock');
  let second: Promise<Awaited<ReturnType<typeof startPipeline>>> | undefined;
  const first = await startPipeline(script, tinyArgs('clip', out, ['--steps', '500']), (chunk, child) => {
    if (!second && /step 1\/500/.test(chunk)) {
      second = startPipeline(script, tinyArgs('clip', out, ['--steps', '500', '--resume', 'latest'])).then((r) => {
        child.kill('SIGTERM');
        return r;
      });
    }
  });
  const refused = await second!;
  t.is(refused.code, 1);
  t.regex(refused.stderr.trim(), new RegExp(`^${script}: .* is in use by process ${first.child.pid} `));
  t.is(first.code, 143, first.stderr);
  t.regex(first.stderr, /stopped by SIGTERM: finishing the current step, saving a checkpoint, then stopping/);
  const saved = await listCheckpoints(join(out, 'checkpoints'));
  t.true(saved.length > 0, 'a checkpoint was saved on SIGTERM');
  t.like(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')), { status: 'stopped', stoppedBy: 'signal' });
  t.false(existsSync(join(out, 'run.lock')), 'the lock is released');
  // and the run continues at once
  const resumed = await startPipeline(
    script,
    tinyArgs('clip', out, ['--steps', String(saved.at(-1)!.step + 1), '--resume', 'latest']),
  );
  t.is(resumed.code, 0, resumed.stderr);
});

test('Ctrl-C while a shard read is stalled: the run stops at once with exit code 130', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s)); // accepts, never answers
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  try {
    const out = tmp('stall');
    const args = tinyArgs('clip', out, ['--steps', '5']);
    args[args.indexOf('--data') + 1] = `http://127.0.0.1:${port}/shard-{0..3}.tar`;
    const child = spawn(nodeBin, [script, ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    while (sockets.size === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    const sent = Date.now();
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    t.is(code, 130, stderr);
    t.true(Date.now() - sent < 10_000, `exited ${Date.now() - sent} ms after SIGINT`);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('data that yields no usable sample is an error (exit 3), not "done at step 0"', async (t) => {
  const once1 = await startPipeline(
    script,
    tinyArgs('clip', tmp('nodata'), ['--steps', '3', '--data.epochs', '1', '--data.caption-extension', 'nope']),
  );
  t.is(once1.code, 3, once1.stderr);
  t.regex(once1.stderr, /no usable sample for a step of 8 in 4 shard\(s\) \(.*tokenize\.missingCaption=/);
  t.notRegex(once1.stderr, /done at step 0/);
  const endless = await startPipeline(script, tinyArgs('clip', tmp('nodata'), ['--data.caption-extension', 'nope']));
  t.is(endless.code, 3, endless.stderr);
  t.regex(endless.stderr, /two consecutive epochs produced no usable sample/);
});

test('evaluation settings are checked at start-up, before any training (exit 2)', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['--eval.shards', '/nonexistent/val-{0..1}.tar', '--eval.prompts', prompts, '--eval.dataset', 'demo-color'],
      /eval: .*2 of 2 shard\(s\) of \/nonexistent\/val-\{0\.\.1\}\.tar do not exist/,
    ],
    [
      ['--eval.shards', heldout, '--eval.prompts', '/nonexistent/prompts.json', '--eval.dataset', 'demo-color'],
      /eval: .*\/nonexistent\/prompts\.json/,
    ],
    [['--eval.shards', heldout, '--eval.prompts', prompts, '--eval.dataset', 'imagenet1k'], /eval: .*imagenet1k/],
  ];
  for (const [flags, message] of cases) {
    const run = await startPipeline(script, tinyArgs('clip', tmp('evalcheck'), ['--steps', '2', ...flags]));
    t.is(run.code, 2, run.stderr);
    t.regex(run.stderr, message);
    t.notRegex(run.stderr, /step 1\//, 'no training step ran');
  }
});

test('a bad supervision option is a declaration error (exit 2)', async (t) => {
  const run = await startPipeline(script, [
    ...tinyArgs('clip', tmp('badopt')),
    '--supervision.options',
    '{"queueSize":3}',
  ]);
  t.is(run.code, 2);
  t.regex(
    run.stderr.trim(),
    /^pipelines\/clip-yfcc15m\.ts: supervision\.options: supervision clip: unknown option "queueSize"/,
  );
});

test('repeated keys in a shard: the cursor stays exact (resume reproduces the uninterrupted run)', async (t) => {
  const dir = tmp('dupkeys');
  const samples: Array<Record<string, unknown>> = [];
  for await (const s of readShards({ shards: demoShards.replace('{000000..000003}', '000000') })) {
    samples.push(s);
    if (samples.length === 9) break;
  }
  const keys = ['a', 'b', 'a', 'c', 'b', 'd', 'a', 'e', 'c'];
  await runStages(
    createContext(),
    samples.map((s, i) => ({ ...s, __key__: keys[i], __url__: '' })),
    [],
    writeShards({ pattern: join(dir, 'dup-%03d.tar') }),
  );
  const data = ['--data', join(dir, 'dup-000.tar'), '--batch-size', '4', '--micro-batch', '0'];
  const straight = await startPipeline(script, [...tinyArgs('clip', join(dir, 'a'), ['--steps', '7']), ...data]);
  t.is(straight.code, 0, straight.stderr);
  const part = await startPipeline(script, [
    ...tinyArgs('clip', join(dir, 'b'), ['--steps', '3', '--checkpoint-every', '1']),
    ...data,
  ]);
  t.is(part.code, 0, part.stderr);
  const rest = await startPipeline(script, [
    ...tinyArgs('clip', join(dir, 'b'), ['--steps', '7', '--resume', 'latest']),
    ...data,
  ]);
  t.is(rest.code, 0, rest.stderr);
  const want = stepsOf(join(dir, 'a'));
  const got = stepsOf(join(dir, 'b'));
  t.deepEqual(
    got.map((s) => s.step),
    [1, 2, 3, 4, 5, 6, 7],
  );
  for (const [i, s] of got.entries()) t.true(Math.abs(s.loss - want[i].loss) <= 1e-6, `step ${s.step}`);
});
