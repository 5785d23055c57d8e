// The out-dir policy of a training run. A failed run overwrites nothing: a run writes only into a new (or empty)
// folder unless --resume or --force. The folder's layout and atomic writes are session/run-files.ts.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError, fsError } from '../errors.ts';
import { runPaths } from '../session/index.ts';

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
    for (const f of [
      p.config,
      p.plan,
      p.events,
      p.metrics,
      p.model,
      p.checkpoints,
      join(dir, 'report.html'),
      p.manifest,
    ])
      rmSync(f, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  return 'new';
}

/** Creates a run folder (and its parents); a refused write is one line naming it. */
export function makeFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, dir) ?? e;
  }
}
