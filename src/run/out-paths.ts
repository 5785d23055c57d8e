// Up-front checks of the paths refit writes (the run folder, the encoded-data cache, --output files), made
// before anything is read, encoded or trained: a path of the wrong kind is bad input (exit 2), a folder that
// cannot be written or a disk without room is the environment (exit 1); each is one line naming the path.
import { existsSync, mkdtempSync, rmdirSync, statfsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { EnvironmentError, RefitError, fsError } from '../errors.ts';
import { formatBytes } from '../bytes.ts';

/**
 * The nearest existing folder at or above `path` (the one a new folder would be created in), or where a file
 * blocks it.
 */
function nearestExisting(path: string): { dir: string; blocker?: string } {
  let p = resolve(path);
  for (;;) {
    if (existsSync(p)) {
      return statSync(p).isDirectory() ? { dir: p } : { dir: dirname(p), blocker: p };
    }
    const up = dirname(p);
    if (up === p) return { dir: p };
    p = up;
  }
}

/** Throws unless a file can be created in folder `dir` (tries for real: root ignores modes, not read-only mounts). */
export function assertCanWrite(dir: string, what: string): void {
  try {
    const probe = mkdtempSync(join(dir, '.refit-write-check-'));
    rmdirSync(probe);
  } catch (e) {
    const err = fsError(e, dir);
    if (err) throw new EnvironmentError(err.code, `${what} ${err.message}`, { cause: e });
    throw e;
  }
}

/** Free bytes on the file system holding `dir`, or undefined where it cannot be asked. */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/**
 * Checks that `dir` can be a folder refit writes: not a file, no file in the way above it, and writable where
 * it is (or where it would be created). `what` names the option in the error (e.g. `--out`).
 */
export function checkFolderTarget(dir: string, what: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new RefitError('E_OUT_NOT_DIR', `${what} ${dir}: is a file, not a folder; give a folder path`);
  }
  const near = nearestExisting(dir);
  if (near.blocker)
    throw new RefitError(
      'E_OUT_NOT_DIR',
      `${what} ${dir}: ${near.blocker} is a file, so no folder can be created under it`,
    );
  assertCanWrite(near.dir, `${what} ${dir}:`);
}

/** Checks that `file` can be written as a file: not a folder, its folder exists (or can be made) and is writable. */
export function checkFileTarget(file: string, what: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new RefitError(
      'E_OUTPUT_IS_DIR',
      `${what} ${file}: is a folder; give a file path (e.g. ${join(file, 'predictions.jsonl')})`,
    );
  }
  const near = nearestExisting(dirname(resolve(file)));
  if (near.blocker)
    throw new RefitError('E_OUTPUT_NOT_DIR', `${what} ${file}: ${near.blocker} is a file, not a folder`);
  assertCanWrite(near.dir, `${what} ${file}:`);
}

/** Refuses a run when the disk under `dir` has less room than `need` bytes (checkpoints and the saved model). */
export function checkFreeSpace(dir: string, need: number, what: string): void {
  const near = nearestExisting(dir).dir;
  const free = freeBytes(near);
  if (free !== undefined && free < need) {
    throw new EnvironmentError(
      'E_DISK_FULL',
      `${what} ${dir}: ${mib(free)} free on its disk but the run needs about ${mib(need)} (checkpoints and ` +
        `the saved model); free some space or use another --out`,
    );
  }
}

const mib = (b: number) => formatBytes(b);

/** The user's cache folder for encoded datasets: REFIT_CACHE, else $XDG_CACHE_HOME/refit, else ~/.cache/refit. */
export function userCacheDir(env: Record<string, string | undefined>): string {
  if (env.REFIT_CACHE) return env.REFIT_CACHE;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'refit');
}

/** True when a folder could be created (or written) at `dir`. */
export function canWriteFolder(dir: string): boolean {
  try {
    checkFolderTarget(dir, 'cache');
    return true;
  } catch {
    return false;
  }
}
