// Run-folder files: the layout (runPaths) and atomic JSON/text writes (temp + rename), for training and for what
// reads or adds to a run (eval, predict, export). Which folder a run may write into is run/files.ts.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
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

/** Appends one JSON line (events.jsonl). */
export function appendJsonLine(path: string, value: unknown): void {
  appendFileSync(path, JSON.stringify(value) + '\n');
}
