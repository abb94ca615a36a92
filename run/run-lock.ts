// An exclusive lock on a run directory, so two processes never train into the same run.
//
// The lock is a file, `<dir>/run.lock`, holding {pid, host, startedAt (the process's start time), nonce}. It is
// created complete in one step (written to a temporary file, then hard-linked to the lock name, which fails if a lock
// exists). A lock is stale when its process is gone: on this host, no process has that pid, the process has exited
// and only waits to be reaped (a zombie: e.g. the ranks of an aborted mpirun job, orphaned to a container's init that
// reaps late), or one has the pid but started at another time (the pid was reused, e.g. in a restarted container).
// So a run killed with SIGKILL can be resumed at once; a holder that is alive is watched for a moment before the
// lock is refused (exitGraceMs), as a process being killed can outlive its launcher briefly. A lock from another host cannot be checked and is never taken over; the error names the host and the file to
// remove once that run is known to be gone.
//
// Why not proper-lockfile: it tells a live lock from a stale one by the lock's mtime, refreshed by a timer every few
// seconds, so after a SIGKILL a resume must wait out the staleness period, and a training step that keeps the event
// loop busy longer than that period (a ViT-B/32 step on the CPU takes seconds) would make a live lock look stale.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface LockOwner {
  pid: number;
  host: string;
  /** The owning process's start time (ms since the epoch, from /proc where available). */
  startedAt: number;
  nonce: string;
}

export class RunLockedError extends Error {
  readonly owner: LockOwner;
  constructor(message: string, owner: LockOwner) {
    super(message);
    this.name = 'RunLockedError';
    this.owner = owner;
  }
}

export const lockFile = (dir: string) => join(dir, 'run.lock');

/** The fields of /proc/PID/stat after the command name (field 3, the state, first), or undefined without /proc. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether a process has exited and waits to be reaped (state Z, zombie, or X, dead), where /proc says so. */
export function processExited(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state === 'Z' || state === 'X';
}

/** Start time of a process in ms since the epoch (Linux /proc), or undefined where it cannot be read. */
export function processStartTime(pid: number): number | undefined {
  try {
    // field 22 (starttime, in clock ticks since boot) comes after the command name in parentheses
    const fields = procStat(pid);
    if (!fields) return undefined;
    const ticks = Number(fields[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(boot)) return undefined;
    return boot * 1000 + Math.round((ticks * 1000) / 100); // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Whether the process of a lock is alive (a lock from another host counts as alive: it cannot be checked). */
export function lockHolderAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (processExited(owner.pid)) return false;
  const started = processStartTime(owner.pid);
  // a pid alive now but started at another time belongs to another process (reused pid)
  return started === undefined || owner.startedAt === 0 || Math.abs(started - owner.startedAt) < 2000;
}

/**
 * How long a lock held by a live process is watched before the lock is refused: a process that is being killed (the
 * ranks of an aborted mpirun job, a run stopped a moment ago) can outlive the command that launched it by a moment.
 */
const exitGraceMs = 2000;

/** Whether the lock's holder is gone now or within `ms` (polled every 50 ms; the lock is taken synchronously). */
function holderGoneWithin(owner: LockOwner, ms: number): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const until = Date.now() + ms; ; Atomics.wait(pause, 0, 0, 50)) {
    if (!lockHolderAlive(owner)) return true;
    if (Date.now() >= until) return false;
  }
}

/** The owner recorded in a lock file, or undefined when there is none. */
export function readOwner(file: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // unreadable content: made by something else than this module; treat as held (never delete what we cannot read)
    throw new Error(
      `${file} exists but is not a run lock (${(err as Error).message}); remove it if no run uses ${file}`,
    );
  }
}

export interface RunLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Remove the lock (only if it is still ours). */
  release(): void;
}

/** Take the lock of `dir` (which must exist); throws RunLockedError naming the owner when a live process holds it. */
export function lockRunDirectory(dir: string): RunLock {
  const file = lockFile(dir);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startedAt: processStartTime(process.pid) ?? 0,
    nonce: randomBytes(8).toString('hex'),
  };
  const tmp = `${file}.${process.pid}.${owner.nonce}`;
  writeFileSync(tmp, JSON.stringify(owner) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const held = readOwner(file);
      if (!held) continue; // released meanwhile
      if (held.host !== owner.host)
        throw new RunLockedError(
          `${dir} is in use by process ${held.pid} on host ${held.host} (${file}); if that run is gone, remove ${file}`,
          held,
        );
      // this very process cannot be exiting: no grace to wait out
      const live = held.pid === process.pid ? lockHolderAlive(held) : !holderGoneWithin(held, exitGraceMs);
      if (attempt >= 3 || live)
        throw new RunLockedError(
          `${dir} is in use by process ${held.pid} (another run writes into it; choose another --out, or wait for it)`,
          held,
        );
      // stale: move it aside, check that what was moved is the stale lock (not a fresh one taken meanwhile)
      const aside = `${file}.stale.${process.pid}.${owner.nonce}`;
      try {
        renameSync(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = readOwner(aside);
      if (moved && moved.nonce !== held.nonce)
        renameSync(aside, file); // someone else's fresh lock: put it back
      else unlinkSync(aside);
    }
  } finally {
    unlinkSync(tmp);
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      if (readOwner(file)?.nonce === owner.nonce) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return { file, owner, release };
}
