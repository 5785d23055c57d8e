// A small file logger for the run log (refit.log): stacks and worker stderr go here, not to the screen.
// It never throws: logging must not be the reason a run fails.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Appends timestamped lines to one file; a logger without a path keeps the last lines in memory. */
export class RunLog {
  readonly path: string | undefined;
  private readonly tail: string[] = [];
  constructor(path?: string) {
    this.path = path;
    if (path) {
      try { mkdirSync(dirname(path), { recursive: true }); } catch { /* reported on write */ }
    }
  }
  /** Writes one or more lines (a multi-line string is kept as is). */
  write(text: string): void {
    const line = `${new Date().toISOString()} ${text.endsWith('\n') ? text : text + '\n'}`;
    this.tail.push(line);
    if (this.tail.length > 200) this.tail.shift();
    if (!this.path) return;
    try { appendFileSync(this.path, line); } catch { /* the log is best-effort */ }
  }
  /** The last `n` lines written through this logger. */
  lastLines(n: number): string[] {
    return this.tail.slice(-n).flatMap((l) => l.trimEnd().split('\n')).slice(-n);
  }
}
