// Reads a run folder's report inputs (events.jsonl, plan.json, metrics.json, config.yaml) from disk.
// Missing optional files are fine (a run still training has no metrics.json); bad content is a one-line error.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DataError, RefitError } from '../errors.ts';
import { parseEvents, type RunParts } from './run-data.ts';

function readJsonIfPresent(path: string): unknown {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError('E_RUN_FILE', { path }, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Checks that `run_dir` is a folder with events.jsonl; throws E_RUN_DIR / E_RUN_EVENTS (exit 2) otherwise. */
export function checkRunFolder(run_dir: string): void {
  if (!existsSync(run_dir) || !statSync(run_dir).isDirectory()) {
    throw new RefitError('E_RUN_DIR', `${run_dir}: no such run folder (pass the folder refit train wrote, e.g. --run runs/NAME)`);
  }
  if (!existsSync(join(run_dir, 'events.jsonl'))) {
    throw new RefitError('E_RUN_EVENTS', `${join(run_dir, 'events.jsonl')}: missing; is ${run_dir} a refit run folder?`);
  }
}

/**
 * Reads the parts of a run folder. With `live: true` a bad events line is skipped instead of failing (the
 * server shows a run that is still being written).
 */
export function readRunParts(run_dir: string, opts: { live?: boolean } = {}): RunParts {
  checkRunFolder(run_dir);
  const eventsPath = join(run_dir, 'events.jsonl');
  const events = parseEvents(readFileSync(eventsPath, 'utf8'), (line, what) => {
    if (!opts.live) throw new DataError('E_RUN_EVENTS', { path: eventsPath, line }, what);
  });
  const configPath = join(run_dir, 'config.yaml');
  return {
    name: basename(resolve(run_dir)),
    events,
    plan: readJsonIfPresent(join(run_dir, 'plan.json')),
    metrics: readJsonIfPresent(join(run_dir, 'metrics.json')),
    config_yaml: existsSync(configPath) ? readFileSync(configPath, 'utf8') : '',
  };
}
