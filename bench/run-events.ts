// The step events of a run folder, read with the report's own parser (src/report parseEvents: a torn last line of a
// run still writing is ignored), for the benchmarks that time training from them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvents } from '../src/report/index.ts';
import type { StepRunEvent } from '../src/run/events.ts';

/** Every `step` event of `run`'s events.jsonl, in order. */
export function stepEvents(run: string): StepRunEvent[] {
  return parseEvents(readFileSync(join(run, 'events.jsonl'), 'utf8')).filter(
    (e): e is typeof e & StepRunEvent => e.event === 'step',
  );
}
