// Progress reporters for runs: tty (updating line), plain (lines), jsonl (event objects). Picked by name from
// REPORTERS.
import type { Writable } from 'node:stream';
import type { Reporter } from '../../run/events.ts';
import { ttyReporter } from './tty.ts';
import { plainReporter } from './plain.ts';
import { jsonlReporter } from './jsonl.ts';

export { ttyReporter, plainReporter, jsonlReporter };

/** Reporter factories by name. */
export const REPORTERS: Readonly<
  Record<'tty' | 'plain' | 'jsonl', (out: Writable & { columns?: number }) => Reporter>
> = Object.freeze({
  tty: ttyReporter,
  plain: (out: Writable) => plainReporter(out),
  jsonl: jsonlReporter,
});

/** The default progress reporter for a stream: tty on a terminal, plain lines otherwise. */
export function defaultReporter(out: Writable & { isTTY?: boolean; columns?: number }): Reporter {
  return out.isTTY ? REPORTERS.tty(out) : REPORTERS.plain(out);
}
