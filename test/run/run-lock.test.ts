// run/run-lock.ts: one process per run directory; a lock whose process is gone (SIGKILL) is taken over at once.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockFile, lockRunDirectory, processExited, processStartTime, RunLockedError } from '../../run/run-lock.ts';

const fresh = () => mkdtempSync(join(tmpdir(), 'lock-'));

test('exclusive: a second lock of the same directory is refused, naming the owner; release frees it', (t) => {
  const dir = fresh();
  const lock = lockRunDirectory(dir);
  t.is(JSON.parse(readFileSync(lockFile(dir), 'utf8')).pid, process.pid);
  const err = t.throws(() => lockRunDirectory(dir), { instanceOf: RunLockedError });
  t.regex(err!.message, new RegExp(`is in use by process ${process.pid}`));
  t.false(err!.message.includes('\n'));
  lock.release();
  t.false(existsSync(lockFile(dir)));
  const again = lockRunDirectory(dir);
  again.release();
  rmSync(dir, { recursive: true });
});

test('stale: the lock of a process that no longer exists is taken over at once', (t) => {
  const dir = fresh();
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const pid = Number(dead.stdout.trim());
  writeFileSync(lockFile(dir), JSON.stringify({ pid, host: hostname(), startedAt: 1, nonce: 'dead' }));
  const lock = lockRunDirectory(dir);
  t.is(lock.owner.pid, process.pid);
  t.is(JSON.parse(readFileSync(lockFile(dir), 'utf8')).nonce, lock.owner.nonce);
  lock.release();
  rmSync(dir, { recursive: true });
});

test('stale: a reused pid (alive, but started at another time) does not hold the lock', (t) => {
  const dir = fresh();
  const started = processStartTime(process.pid);
  if (started === undefined) return t.pass('no /proc here');
  // our own pid, recorded with a start time an hour earlier: another process that had this pid
  writeFileSync(
    lockFile(dir),
    JSON.stringify({ pid: process.pid, host: hostname(), startedAt: started - 3_600_000, nonce: 'old' }),
  );
  const lock = lockRunDirectory(dir);
  t.is(lock.owner.nonce, JSON.parse(readFileSync(lockFile(dir), 'utf8')).nonce);
  lock.release();
  rmSync(dir, { recursive: true });
});

test('stale: a process that has exited but is not yet reaped (a zombie) does not hold the lock', (t) => {
  if (processStartTime(process.pid) === undefined) return t.pass('no /proc here');
  const dir = fresh();
  // the shell starts `true` in the background, then becomes `sleep`, which never reaps it
  const parent = spawn('sh', ['-c', 'true & exec sleep 30'], { stdio: 'ignore' });
  try {
    const children = execFileSync('sh', ['-c', `sleep 0.3; cat /proc/${parent.pid}/task/*/children`]);
    const pid = Number(children.toString().trim());
    t.true(processExited(pid), `process ${pid} is a zombie`);
    const startedAt = processStartTime(pid)!;
    writeFileSync(lockFile(dir), JSON.stringify({ pid, host: hostname(), startedAt, nonce: 'zombie' }));
    const lock = lockRunDirectory(dir);
    t.is(lock.owner.pid, process.pid);
    lock.release();
  } finally {
    parent.kill('SIGKILL');
    rmSync(dir, { recursive: true });
  }
});

test('a live holder is watched for a moment: one that exits then yields the lock, one that stays keeps it', (t) => {
  if (processStartTime(process.pid) === undefined) return t.pass('no /proc here');
  const dir = fresh();
  const holder = (seconds: number) => {
    const child = spawn('sleep', [String(seconds)], { stdio: 'ignore' });
    const pid = child.pid!;
    writeFileSync(
      lockFile(dir),
      JSON.stringify({ pid, host: hostname(), startedAt: processStartTime(pid), nonce: 'h' }),
    );
    return child;
  };
  const exiting = holder(0.5); // e.g. a rank of an aborted mpirun job, still being torn down
  try {
    const lock = lockRunDirectory(dir);
    t.is(lock.owner.pid, process.pid);
    lock.release();
  } finally {
    exiting.kill('SIGKILL');
  }
  const staying = holder(30);
  try {
    const started = Date.now();
    t.throws(() => lockRunDirectory(dir), { instanceOf: RunLockedError, message: /in use by process/ });
    t.true(Date.now() - started >= 1900, 'refused only after the grace period');
  } finally {
    staying.kill('SIGKILL');
    rmSync(dir, { recursive: true });
  }
});

test('a lock from another host is never taken over; the error says which file to remove', (t) => {
  const dir = fresh();
  writeFileSync(lockFile(dir), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 1, nonce: 'x' }));
  const err = t.throws(() => lockRunDirectory(dir), { instanceOf: RunLockedError });
  t.regex(err!.message, /in use by process 1 on host elsewhere .*remove .*run\.lock$/);
  rmSync(dir, { recursive: true });
});

test('release only removes our own lock', (t) => {
  const dir = fresh();
  const lock = lockRunDirectory(dir);
  writeFileSync(lockFile(dir), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 1, nonce: 'theirs' }));
  lock.release();
  t.true(existsSync(lockFile(dir)), 'a lock that is not ours stays');
  rmSync(dir, { recursive: true });
});
