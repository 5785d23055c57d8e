// Plain progress lines for logs and pipes: one line per logged step (every `every` steps), eval, incident and the end.
import type { Writable } from 'node:stream';
import type { Reporter } from '../../run/events.ts';
import { memoryFigure } from './format.ts';

/** A reporter writing plain lines to `out`; steps are printed every `every` steps and on the last one. */
export function plainReporter(out: Writable, opts: { every?: number } = {}): Reporter {
  const every = opts.every ?? 10;
  let total = 0;
  return {
    onRunStart: (e) => {
      total = e.total_steps;
      out.write(
        `training: ${e.examples.train} examples, ${e.total_steps} steps on ${e.device}` +
          `${e.resumed_from_step ? `, resumed at step ${e.resumed_from_step}` : ''}\n`,
      );
    },
    onStep: (e) => {
      if (e.step % every !== 0 && e.step !== total) return;
      out.write(
        `step ${e.step}/${total} epoch ${e.epoch} loss ${e.loss.toFixed(4)} ${e.examples_per_s.toFixed(1)} ` +
          `ex/s ${memoryFigure(e.memory)}\n`,
      );
    },
    onEval: (e) =>
      out.write(
        `eval ${e.split} epoch ${e.epoch}: accuracy ${e.accuracy.toFixed(4)} macro_f1 ` +
          `${e.macro_f1.toFixed(4)} micro_f1 ${e.micro_f1.toFixed(4)}\n`,
      ),
    onOom: (e) =>
      out.write(
        `out of memory at step ${e.step} (micro-batch ${e.completed_micro_batches + 1}); recovering\n`,
      ),
    onRecover: (e) =>
      out.write(
        e.event === 'restart'
          ? `worker restarted at step ${e.step}; resuming from step ${e.resume_step}\n`
          : `recovery at step ${e.step}: ${e.action} ${String(e.from)} → ${String(e.to)}\n`,
      ),
    onResume: (e) =>
      out.write(`resuming from the checkpoint at step ${e.from_step}${e.changed ? ` (${e.changed})` : ''}\n`),
    onRunEnd: (e) =>
      out.write(
        e.status === 'ok'
          ? `done: ${e.optimizer_steps} steps, ${e.examples_seen} examples in ${e.seconds.toFixed(1)} s\n`
          : e.status === 'interrupted'
            ? `interrupted after ${e.optimizer_steps} steps` +
              `${e.checkpoint_step != null ? `; checkpoint at step ${e.checkpoint_step} kept` : ''}\n`
            : `failed after ${e.optimizer_steps} steps: ${e.error ?? ''}\n`,
      ),
  };
}
