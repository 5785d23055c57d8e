// JSON-lines progress: every event as one line, the same objects events.jsonl holds (for machines reading stdout).
import type { Writable } from 'node:stream';
import type { Reporter, RunEvent } from '../../run/events.ts';

/** A reporter writing each event as one JSON line to `out`. */
export function jsonlReporter(out: Writable): Reporter {
  const w = (e: RunEvent) => {
    out.write(JSON.stringify(e) + '\n');
  };
  return {
    onRunStart: w,
    onStep: w,
    onEval: w,
    onOom: w,
    onRecover: w,
    onCheckpoint: w,
    onResume: w,
    onRunEnd: w,
  };
}
