// run/run-directory.ts: a run directory belongs to one run configuration; its run.json says how the run is doing.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  configurationDifference,
  openRunDirectory,
  readRunStatus,
  recordedDeclaration,
  resumableFields,
  RunDirectoryError,
} from '../../run/run-directory.ts';
import { validateDeclaration } from '../../run/validate.ts';
import { applyOverrides, parseArgs } from '../../run/cli.ts';
import { lockFile } from '../../run/run-lock.ts';
import { zeroShotEvaluation } from '../../run/zero-shot-hook.ts';
import { EXIT, exitCodeOf } from '../../run/command.ts';

const logs: string[] = [];
const log = (l: string) => logs.push(l);
const decl = (out: string, ...flags: string[]) =>
  applyOverrides(
    validateDeclaration({ name: 't', model: { preset: 'tiny' }, data: { shards: 'a.tar' }, logging: { out } }),
    parseArgs(flags).overrides,
  );

test('a new directory takes the run; run.json records the declaration and the status', (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'rundir-')), 'run');
  const d = decl(out);
  const dir = openRunDirectory(d, 'a.tar', { resuming: false, log });
  const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  t.is(record.status, 'running');
  t.is(record.declaration.model.preset, 'tiny');
  t.is(readRunStatus(out).status, 'running', 'our own process holds it');
  dir.setStatus('finished', 7, { stoppedBy: 'steps' });
  t.like(readRunStatus(out), { status: 'finished', step: 7 });
  dir.close();
  t.false(existsSync(lockFile(out)));
});

test('another configuration is refused (new run or resume), naming the field; resumable fields may change', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'rundir-'));
  openRunDirectory(decl(out), 'a.tar', { resuming: false, log }).close();
  writeFileSync(join(out, 'metrics.jsonl'), '{"type":"step","step":1}\n');

  const other = t.throws(() => openRunDirectory(decl(out, '--batch-size', '64'), 'a.tar', { resuming: false, log }), {
    instanceOf: RunDirectoryError,
  });
  t.regex(other!.message, /holds a run of another configuration \(optim\.batchSize is 4096 there, 64 here\)/);
  t.is(exitCodeOf(other), EXIT.usage);
  const resume = t.throws(
    () => openRunDirectory(decl(out, '--batch-size', '64', '--resume', 'latest'), 'a.tar', { resuming: true, log }),
    { instanceOf: RunDirectoryError },
  );
  t.regex(
    resume!.message,
    /^cannot resume .*optim\.batchSize is 4096 there, 64 here.*only these may change: .*optim\.steps/,
  );
  const data = t.throws(() => openRunDirectory(decl(out, '--resume', 'latest'), 'b.tar', { resuming: true, log }));
  t.regex(data!.message, /data\.shards is "a\.tar" there, "b\.tar" here/);
  t.is(readFileSync(join(out, 'metrics.jsonl'), 'utf8'), '{"type":"step","step":1}\n', 'the old run is untouched');

  // more steps, other schedules and logging: the same run
  const more = decl(
    out,
    '--steps',
    '999',
    '--eval-every',
    '5',
    '--checkpoint-every',
    '7',
    '--progress',
    'none',
    '--resume',
    'latest',
  );
  openRunDirectory(more, 'a.tar', { resuming: true, log }).close();
});

test('the same configuration without --resume is refused unless logging.replace, which removes the old run', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'rundir-'));
  openRunDirectory(decl(out), 'a.tar', { resuming: false, log }).close();
  mkdirSync(join(out, 'checkpoints', 'step-000000001'), { recursive: true });
  writeFileSync(join(out, 'metrics.jsonl'), '{}\n');
  writeFileSync(join(out, 'notes.txt'), 'mine');
  writeFileSync(join(out, 'events.out.tfevents.1.host.2.0'), '');
  const err = t.throws(() => openRunDirectory(decl(out), 'a.tar', { resuming: false, log }), {
    instanceOf: RunDirectoryError,
  });
  t.regex(
    err!.message,
    /already holds this run \(running at step 0\): --resume latest continues it, --logging\.replace/,
  );
  const dir = openRunDirectory(decl(out, '--logging.replace'), 'a.tar', { resuming: false, log });
  dir.close();
  t.false(existsSync(join(out, 'checkpoints')));
  t.false(existsSync(join(out, 'metrics.jsonl')));
  t.false(existsSync(join(out, 'events.out.tfevents.1.host.2.0')));
  t.true(existsSync(join(out, 'notes.txt')), 'files that are not the run are left alone');
  // a different configuration can be replaced too
  openRunDirectory(decl(out, '--seed', '3', '--logging.replace'), 'a.tar', { resuming: false, log }).close();
  t.is(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).declaration.seed, 3);
});

test('files of a run without run.json: resumable, not overwritten by a new run', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'rundir-'));
  writeFileSync(join(out, 'metrics.jsonl'), '{}\n');
  t.throws(() => openRunDirectory(decl(out), 'a.tar', { resuming: false, log }), {
    message: /already holds this run \(files metrics\.jsonl\)/,
  });
  openRunDirectory(decl(out, '--resume', 'latest'), 'a.tar', { resuming: true, log }).close();
});

test('readRunStatus: a run left "running" by a process that is gone is interrupted', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'rundir-'));
  const dir = openRunDirectory(decl(out), 'a.tar', { resuming: false, log });
  dir.setStatus('running', 3);
  dir.close();
  const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout);
  writeFileSync(lockFile(out), JSON.stringify({ pid: dead, host: hostname(), startedAt: 1, nonce: 'n' }));
  t.like(readRunStatus(out), { status: 'interrupted', step: 3 });
  t.is(readRunStatus(mkdtempSync(join(tmpdir(), 'rundir-'))).status, 'none');
});

test('an evaluation hook is recorded by its identity; every non-resumable field is compared', (t) => {
  const hook = zeroShotEvaluation({ shards: 'e.tar', prompts: 'p.json', dataset: 'x' });
  const d = validateDeclaration({ name: 't', eval: { evaluate: hook } });
  const r = recordedDeclaration(d, 'a.tar');
  t.like((r.eval as { evaluate: { tasks: unknown[] } }).evaluate.tasks[0], {
    data: 'e.tar',
    prompts: 'p.json',
    dataset: 'x',
  });
  const other = recordedDeclaration(
    validateDeclaration({
      name: 't',
      eval: { evaluate: zeroShotEvaluation({ shards: 'f.tar', prompts: 'p.json', dataset: 'x' }) },
    }),
    'a.tar',
  );
  t.is(configurationDifference(r, other)?.field, 'eval.evaluate');
  t.true(resumableFields().includes('optim.steps'));
  t.false(resumableFields().includes('optim.batchSize'));
});
