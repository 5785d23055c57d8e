// The run-folder lock: one `refit train` writes a run folder at a time. `<out>/.refit.lock` is created atomically
// (O_EXCL) and holds what makes its owner unique on this host: the boot id, the PID and that process's start time.
// A lock whose process is gone — the PID is dead, the machine rebooted, or the PID now names another process (a
// restarted container's refit is PID 1 again) — is stale and taken over.
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
  /** The kernel's boot id (Linux); a lock from an earlier boot is stale. */
  boot_id?: string;
  /** The owner's start time in clock ticks since boot (Linux /proc/PID/stat); another value: the PID was reused. */
  pid_start?: string;
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

/** This boot's id (Linux), or undefined where there is none. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** When process `pid` started, in clock ticks since boot (field 22 of /proc/PID/stat), or undefined. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] || undefined;
  } catch {
    return undefined;
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return null;
    return {
      pid: v.pid,
      host: v.host,
      started: String(v.started ?? '?'),
      command: String(v.command ?? 'refit'),
      ...(typeof v.boot_id === 'string' ? { boot_id: v.boot_id } : {}),
      ...(typeof v.pid_start === 'string' ? { pid_start: v.pid_start } : {}),
    };
  } catch {
    return null;
  }
}

/** The lock info of this process now. */
function ownInfo(command: string): LockInfo {
  const boot_id = bootId();
  const pid_start = processStart(process.pid);
  return {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command,
    ...(boot_id ? { boot_id } : {}),
    ...(pid_start ? { pid_start } : {}),
  };
}

/** True when `a` and `b` name the same process (PID, boot and start time, where both recorded them). */
function sameProcess(a: LockInfo, b: LockInfo): boolean {
  return (
    a.pid === b.pid &&
    a.host === b.host &&
    (a.boot_id === undefined || b.boot_id === undefined || a.boot_id === b.boot_id) &&
    (a.pid_start === undefined || b.pid_start === undefined || a.pid_start === b.pid_start)
  );
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
  const boot = bootId();
  if (info.boot_id && boot && info.boot_id !== boot)
    return `written before this machine restarted (pid ${info.pid})`;
  if (info.pid !== process.pid && !pidAlive(info.pid)) return `pid ${info.pid} is gone`;
  const start = processStart(info.pid);
  if (info.pid_start && start && info.pid_start !== start) return `pid ${info.pid} is now another process`;
  return null;
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
  const info = ownInfo(command);
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
        if (now && sameProcess(now, info) && now.started === info.started) rmSync(path, { force: true });
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
