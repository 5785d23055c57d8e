// The run-folder lock: one `refit train` writes a run folder at a time. `<out>/.refit.lock` is created atomically
// (O_EXCL) and holds the owner's PID, host and start time; a lock whose PID is gone on this host is stale and
// taken over.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError, fsError } from '../errors.ts';

/** The lock file's name inside a run folder. */
export const LOCK_FILE = '.refit.lock';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  command: string;
}

/** A held lock; `release` removes the file (only if it is still ours). */
export interface RunLock {
  path: string;
  info: LockInfo;
  release(): void;
}

/** True while process `pid` exists on this machine (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof v.pid === 'number' && typeof v.host === 'string'
      ? { pid: v.pid, host: v.host, started: String(v.started ?? '?'), command: String(v.command ?? 'refit') }
      : null;
  } catch {
    return null;
  }
}

/** A lock file that was just created may still be empty: give its writer this long before calling it stale. */
const TORN_LOCK_GRACE_MS = 5_000;

/** Why the lock at `path` may be taken over, or null while its owner is alive. */
function staleReason(path: string): string | null {
  const info = readLock(path);
  if (!info) {
    let age = Infinity;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      return 'gone';
    }
    return age > TORN_LOCK_GRACE_MS ? 'unreadable' : null;
  }
  if (info.host !== hostname()) return null; // another machine's process: it cannot be checked from here
  if (info.pid === process.pid) return null;
  return pidAlive(info.pid) ? null : `pid ${info.pid} is gone`;
}

/**
 * Locks run folder `dir` (which must exist) for `command`; throws E_RUN_LOCKED (exit 1) naming the owner while
 * another live process holds it. A stale lock (owner dead on this host, or unreadable for a while) is replaced.
 */
export function lockRunFolder(
  dir: string,
  command = 'refit train',
  opts: { log?: (line: string) => void } = {},
): RunLock {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw fsError(e, path) ?? e;
      const stale = staleReason(path);
      if (stale === null) throw lockedError(dir, path);
      opts.log?.(`${path}: stale lock (${stale}); taking it over`);
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(info) + '\n');
    } catch (e) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw fsError(e, path) ?? e;
    }
    closeSync(fd);
    let released = false;
    return {
      path,
      info,
      release() {
        if (released) return;
        released = true;
        const now = readLock(path);
        if (now && now.pid === info.pid && now.host === info.host && now.started === info.started)
          rmSync(path, { force: true });
      },
    };
  }
  throw lockedError(dir, path);
}

function lockedError(dir: string, path: string): EnvironmentError {
  const o = readLock(path);
  const who = o ? `${o.command} (pid ${o.pid} on ${o.host}, since ${o.started})` : 'another refit process';
  const remote = o && o.host !== hostname() ? `; if that process is gone, delete ${path}` : '';
  return new EnvironmentError(
    'E_RUN_LOCKED',
    `${dir}: ${who} is already writing this run folder; wait for it to finish or stop it, or use another ` +
      `--out${remote}`,
  );
}
