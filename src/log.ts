// A small file logger for the run log (refit.log): stacks and worker stderr go here, not to the screen.
// It never throws: logging must not be the reason a run fails. It is bounded: each line is cut to
// MAX_LOG_LINE_CHARS, one write to MAX_LOG_WRITE_LINES lines, and the file is rotated to `<path>.1` once it
// passes its size cap, so hostile input or a crash loop cannot fill the disk.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Longest line written (characters); the rest is replaced by `… (N more characters)`. */
export const MAX_LOG_LINE_CHARS = 1000;
/** Most lines one write keeps (a stack, a worker's traceback); the rest is summarised in one line. */
export const MAX_LOG_WRITE_LINES = 100;
/** Default size at which the log file is rotated to `<path>.1` (the previous `.1` is replaced): 10 MiB. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
/** Environment variable that overrides the rotation size (bytes; e.g. REFIT_LOG_MAX_BYTES=1048576). */
export const LOG_MAX_BYTES_ENV = 'REFIT_LOG_MAX_BYTES';

/** `text` cut to `max` characters, with how much was left out; for values echoed into logs and errors. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The rotation size named by REFIT_LOG_MAX_BYTES, or undefined when it is not set or not a positive integer. */
export function logMaxBytesFromEnv(env: Record<string, string | undefined>): number | undefined {
  const v = env[LOG_MAX_BYTES_ENV];
  if (!v || !/^\d+$/.test(v.trim()) || Number(v) <= 0) return undefined;
  return Number(v);
}

/** Appends timestamped lines to one file; a logger without a path keeps the last lines in memory. */
export class RunLog {
  readonly path: string | undefined;
  /** The size at which the file is rotated to `<path>.1`. */
  readonly max_bytes: number;
  private readonly tail: string[] = [];
  private size: number | undefined;
  constructor(path?: string, opts: { max_bytes?: number } = {}) {
    this.path = path;
    this.max_bytes = Math.max(4096, opts.max_bytes ?? DEFAULT_LOG_MAX_BYTES);
    if (path) {
      try {
        mkdirSync(dirname(path), { recursive: true });
      } catch {
        /* reported on write */
      }
    }
  }
  /** Writes one or more lines (a multi-line string is kept as is, each line and the line count bounded). */
  write(text: string): void {
    let lines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
    if (lines.length > MAX_LOG_WRITE_LINES) {
      const left = lines.length - MAX_LOG_WRITE_LINES;
      lines = [...lines.slice(0, MAX_LOG_WRITE_LINES - 1), `… (${left + 1} more lines)`];
    }
    const line = `${new Date().toISOString()} ${lines.map((l) => clip(l, MAX_LOG_LINE_CHARS)).join('\n')}\n`;
    this.tail.push(line);
    if (this.tail.length > 200) this.tail.shift();
    if (!this.path) return;
    try {
      this.rotateIfFull(Buffer.byteLength(line));
      appendFileSync(this.path, line);
      if (this.size !== undefined) this.size += Buffer.byteLength(line);
    } catch {
      /* the log is best-effort */
    }
  }
  /** The last `n` lines written through this logger. */
  lastLines(n: number): string[] {
    return this.tail
      .slice(-n)
      .flatMap((l) => l.trimEnd().split('\n'))
      .slice(-n);
  }

  /**
   * Moves the file to `<path>.1` when appending `bytes` would pass the cap (another process may write too:
   * re-checked on disk).
   */
  private rotateIfFull(bytes: number): void {
    const path = this.path as string;
    if (this.size === undefined) this.size = fileSize(path);
    if (this.size + bytes <= this.max_bytes) return;
    this.size = fileSize(path);
    if (this.size + bytes <= this.max_bytes || this.size === 0) return;
    renameSync(path, `${path}.1`);
    this.size = 0;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
