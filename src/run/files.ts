// Run-folder files: the layout, atomic JSON/text writes (temp + rename) and the out-dir policy.
// A failed run overwrites nothing: a run writes only into a new (or empty) folder unless --resume or --force.
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  appendFileSync,
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

/** Throws unless `dir` holds a run with a checkpoint to continue from. */
export function assertResumable(dir: string): void {
  if (!existsSync(runPaths(dir).last_state))
    throw new RefitError(
      'E_RESUME',
      `${dir}: no checkpoint to resume from (checkpoints/last.json missing); run without --resume`,
    );
}

/** Entries of a run folder that are not part of the run: its lock and an encoded-data cache kept inside it. */
const NOT_RUN_FILES = new Set(['.refit.lock', '.refit-cache']);

/** Files a run that failed before writing config.yaml leaves behind; a new run may reuse such a folder. */
const FAILED_START_FILES = new Set(['refit.log', 'events.jsonl', 'checkpoints']);

/**
 * Prepares the out folder: a new or empty folder is used as is, as is one holding only what a run that failed
 * before its start left (refit.log, events.jsonl). An existing run needs --resume (continue it) or --force (its
 * run files are removed first). Anything else is refused, so nothing is overwritten.
 */
export function prepareOutDir(opts: { dir: string; resume: boolean; force: boolean }): 'new' | 'resume' {
  const { dir } = opts;
  const p = runPaths(dir);
  if (opts.resume) {
    assertResumable(dir);
    return 'resume';
  }
  // The lock (lock.ts) and a cache kept inside the run folder (prepare.ts) are not run files.
  const entries = existsSync(dir) ? readdirSync(dir).filter((f) => !NOT_RUN_FILES.has(f)) : [];
  const failedStart = !existsSync(p.config) && entries.every((f) => FAILED_START_FILES.has(f));
  if (entries.length > 0 && !failedStart && !opts.force) {
    throw new RefitError(
      'E_OUT_EXISTS',
      `${dir}: folder exists and is not empty; use --resume to continue that run, --force to replace it, ` +
        `or another --out`,
    );
  }
  if (entries.length > 0) {
    for (const f of [p.config, p.plan, p.events, p.metrics, p.model, p.checkpoints, join(dir, 'report.html')])
      rmSync(f, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  return 'new';
}
