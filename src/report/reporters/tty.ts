// Terminal progress: one line rewritten in place (step, loss, examples/s, memory); other events print above it.
import type { Writable } from 'node:stream';
import type { Reporter } from '../../run/events.ts';
import { plainReporter } from './plain.ts';
import { memoryFigure } from './format.ts';

/** A reporter for a TTY: an updating status line, plus the plain reporter's lines for everything but steps. */
export function ttyReporter(out: Writable & { columns?: number }): Reporter {
  const plain = plainReporter(out, { every: Number.MAX_SAFE_INTEGER });
  let total = 0;
  let live = false;
  const clear = () => {
    if (live) {
      out.write('\r\x1b[2K');
      live = false;
    }
  };
  const wrap =
    <E>(f: ((e: E) => void) | undefined) =>
    (e: E) => {
      clear();
      f?.(e);
    };
  return {
    onRunStart: (e) => {
      total = e.total_steps;
      plain.onRunStart?.(e);
    },
    onStep: (e) => {
      const line =
        `step ${e.step}/${total} · epoch ${e.epoch} · loss ${e.loss.toFixed(4)} · ` +
        `${e.examples_per_s.toFixed(1)} ex/s · ${memoryFigure(e.memory)}`;
      out.write(`\r\x1b[2K${line.slice(0, Math.max(20, (out.columns ?? 120) - 1))}`);
      live = true;
    },
    onEval: wrap(plain.onEval),
    onOom: wrap(plain.onOom),
    onRecover: wrap(plain.onRecover),
    onCheckpoint: wrap(plain.onCheckpoint),
    onResume: wrap(plain.onResume),
    onRunEnd: wrap(plain.onRunEnd),
  };
}
