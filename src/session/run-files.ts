// Run-folder files: the layout (runPaths) and atomic JSON/text writes (temp + rename), for training and for what
// reads or adds to a run (eval, predict, export). Which folder a run may write into is run/files.ts.
import {
  appendFileSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { RefitError, type ErrorCode } from '../errors.ts';

/** Paths inside a run folder (design §5). */
export function runPaths(dir: string) {
  return {
    dir,
    config: join(dir, 'config.yaml'),
    plan: join(dir, 'plan.json'),
    events: join(dir, 'events.jsonl'),
    metrics: join(dir, 'metrics.json'),
    model: join(dir, 'model'),
    log: join(dir, 'refit.log'),
    checkpoints: join(dir, 'checkpoints'),
    last_state: join(dir, 'checkpoints', 'last.json'),
    /** What the run was started on (run/run-manifest.ts), checked by --resume. */
    manifest: join(dir, 'manifest.json'),
  };
}

/** Writes `text` to `path` atomically (temp file in the same folder, then rename). */
export function writeTextAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Writes `value` as pretty JSON to `path` atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeTextAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Reads a JSON file; a missing or unreadable file is a RefitError naming it. */
export function readJson<T>(path: string, code: ErrorCode = 'E_RUN_FILE'): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new RefitError(code, `${path}: ${existsSync(path) ? 'not valid JSON' : 'missing'}`, { cause: e });
  }
}

/**
 * Appends one JSON line (events.jsonl). A file whose last line is torn (a write cut short by a full disk) is
 * ended first, so the new line stays a line of its own instead of being glued onto the torn one.
 */
export function appendJsonLine(path: string, value: unknown): void {
  const line = JSON.stringify(value) + '\n';
  appendFileSync(path, endsTorn(path) ? '\n' + line : line);
}

/** True when `path` exists, is not empty and does not end with a newline. */
function endsTorn(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // not written yet
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}
