// Progress of `refit predict --input` on stderr: a bar with rows/s and ETA redrawn in place on a terminal, plain
// lines every PLAIN_EVERY_MS when stderr is not one. Never writes to stdout (the predictions may go there).
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';

/** How often the terminal bar is redrawn (ms). */
export const BAR_EVERY_MS = 200;
/** How often a plain progress line is written when stderr is not a terminal (ms); quicker runs print none. */
export const PLAIN_EVERY_MS = 10_000;
const BAR_WIDTH = 24;

/**
 * Counts the lines of a file in one streaming pass (constant memory): the ETA's row total, approximate (blank
 * lines, a header).
 */
export async function countLines(path: string): Promise<number> {
  let n = 0;
  let last = 10;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
    last = chunk[chunk.length - 1];
  }
  return last === 10 ? n : n + 1;
}

function clock(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A progress reporter: call `rows(n)` as lines are written and `done()` at the end. */
export function predictProgress(opts: {
  stderr: Writable & { isTTY?: boolean };
  total?: number;
  now?: () => number;
}): { rows(n: number): void; done(): void } {
  const now = opts.now ?? (() => performance.now());
  const tty = opts.stderr.isTTY === true;
  const t0 = now();
  let written = 0;
  let shownAt = t0;
  let drawn = false;
  const text = () => {
    const s = (now() - t0) / 1000;
    const rate = s > 0 ? written / s : 0;
    const total = opts.total && opts.total >= written ? opts.total : undefined;
    const eta = total && rate > 0 ? clock((total - written) / rate) : '?';
    const count = total
      ? `${written.toLocaleString('en')}/≈${total.toLocaleString('en')} rows`
      : `${written.toLocaleString('en')} rows`;
    if (!tty) return `refit predict: ${count}, ${Math.round(rate)} rows/s, ETA ${eta}`;
    const frac = total ? Math.min(1, written / total) : 0;
    const bar = total
      ? `[${'='.repeat(Math.round(frac * BAR_WIDTH)).padEnd(BAR_WIDTH)}] ${Math.floor(frac * 100)}% `
      : '';
    return `${bar}${count}  ${Math.round(rate)} rows/s  ETA ${eta}  ${clock(s)} elapsed`;
  };
  return {
    rows(n) {
      written += n;
      const t = now();
      if (t - shownAt < (tty ? BAR_EVERY_MS : PLAIN_EVERY_MS)) return;
      shownAt = t;
      drawn = true;
      opts.stderr.write(tty ? `\r\x1b[2K${text()}` : `${text()}\n`);
    },
    done() {
      if (tty && drawn) opts.stderr.write(`\r\x1b[2K${text().replace(/ETA \S+ {2}/, '')}\n`);
    },
  };
}
