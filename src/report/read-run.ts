// Reads a run folder's report inputs (events.jsonl, plan.json, metrics.json, config.yaml) from disk.
// Missing optional files are fine (a run still training has no metrics.json); bad content is a one-line error.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DataError, RefitError } from '../errors.ts';
import { parseEvents, type EventLine, type RunParts } from './run-data.ts';

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
    throw new RefitError(
      'E_RUN_DIR',
      `${run_dir}: no such run folder (pass the folder refit train wrote, e.g. --run runs/NAME)`,
    );
  }
  if (!existsSync(join(run_dir, 'events.jsonl'))) {
    throw new RefitError(
      'E_RUN_EVENTS',
      `${join(run_dir, 'events.jsonl')}: missing; is ${run_dir} a refit run folder?`,
    );
  }
}

/**
 * Reads the parts of a run folder. With `live: true` a bad events line is skipped instead of failing (the
 * server shows a run that is still being written). A torn events line is skipped either way and named in
 * `skipped` (a torn last line only when not `live`: there it is a line still being written).
 */
export function readRunParts(run_dir: string, opts: { live?: boolean } = {}): RunParts {
  checkRunFolder(run_dir);
  const eventsPath = join(run_dir, 'events.jsonl');
  const skipped: string[] = [];
  const text = readFileSync(eventsPath, 'utf8');
  const lastLine = text.split('\n').length;
  const events = parseEvents(
    text,
    (line, what) => {
      if (!opts.live) throw new DataError('E_RUN_EVENTS', { path: eventsPath, line }, what);
    },
    (line, what) => {
      if (!opts.live || line < lastLine) skipped.push(`${eventsPath}:${line}: ${what}`);
    },
  );
  const configPath = join(run_dir, 'config.yaml');
  return {
    name: basename(resolve(run_dir)),
    events,
    ...(skipped.length ? { skipped } : {}),
    plan: readJsonIfPresent(join(run_dir, 'plan.json')),
    metrics: readJsonIfPresent(join(run_dir, 'metrics.json')),
    config_yaml: existsSync(configPath) ? readFileSync(configPath, 'utf8') : '',
  };
}

/**
 * Follows a growing events.jsonl: each read parses only the bytes appended since the last one (a live run's
 * file can reach megabytes, polled every second or two). A file that shrank or was replaced is read anew.
 */
export class EventsTail {
  private offset = 0;
  private ino = -1;
  private events: EventLine[] = [];
  constructor(private readonly path: string) {}

  /** Every complete event line so far ([] while the file does not exist); a torn last line waits for its end. */
  read(): EventLine[] {
    let st;
    try {
      st = statSync(this.path);
    } catch {
      this.reset(-1);
      return this.events;
    }
    if (st.ino !== this.ino || st.size < this.offset) this.reset(st.ino);
    if (st.size === this.offset) return this.events;
    const buf = Buffer.alloc(st.size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return this.events;
    this.events.push(...parseEvents(buf.subarray(0, end + 1).toString('utf8')));
    this.offset += end + 1;
    return this.events;
  }

  private reset(ino: number): void {
    this.ino = ino;
    this.offset = 0;
    this.events = [];
  }
}

/**
 * plan.json, metrics.json and config.yaml of a run that may still be written: anything missing or unreadable
 * is null/''.
 */
export function readRunSideFiles(run_dir: string): { plan: unknown; metrics: unknown; config_yaml: string } {
  const json = (name: string) => {
    try {
      return readJsonIfPresent(join(run_dir, name));
    } catch {
      return null;
    }
  };
  let config_yaml = '';
  try {
    config_yaml = readFileSync(join(run_dir, 'config.yaml'), 'utf8');
  } catch {
    /* not written yet */
  }
  return { plan: json('plan.json'), metrics: json('metrics.json'), config_yaml };
}
