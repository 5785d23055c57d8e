// What a training command does besides the run: the progress reporter --progress names, the summary lines of a
// finished run, and the export of model.onnx after training (training never imports infer/). Shared by `refit train`
// and `refit demo` (the run's report.html is written by runTraining's write_report).
import type { CliContext } from './context.ts';
import { exportRun, onnxCheckSummary } from '../infer/index.ts';
import type { RunLog } from '../log.ts';
import type { Reporter, RunMetrics } from '../run/index.ts';
import { REPORTERS, defaultReporter } from '../report/reporters/index.ts';
import { ConfigError } from '../errors.ts';
import { own } from '../own.ts';

/** The progress reporter a --progress value names (auto: tty on a terminal, plain otherwise). */
export function pickReporter(ctx: CliContext, progress: string): Reporter[] {
  if (progress === 'none') return [];
  if (progress === 'auto') return [defaultReporter(ctx.io.stdout)];
  // not Object.prototype's
  const make = own(REPORTERS as Record<string, (out: CliContext['io']['stdout']) => Reporter>, progress);
  if (!make)
    throw new ConfigError('E_CLI_OPTION', `--progress ${progress}: use auto, tty, plain, jsonl or none`);
  return [make(ctx.io.stdout)];
}

/** Prints the metrics of a finished run as a few lines. */
export function printSummary(ctx: CliContext, run_dir: string, m: RunMetrics): void {
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
  for (const split of ['valid', 'test'] as const) {
    const b = m[split];
    if (b)
      ctx.io.stdout.write(
        `${split}: accuracy ${f(b.accuracy)}  macro_f1 ${f(b.macro_f1)}  micro_f1 ${f(b.micro_f1)}\n`,
      );
  }
  // deepke-lm with DeepKE's gold-relation type words: the score without them, next to the one with them.
  const u = m.test_without_types;
  if (u)
    ctx.io.stdout.write(
      `test without type words (no label leak): accuracy ${f(u.accuracy)}  macro_f1 ${f(u.macro_f1)}  ` +
        `micro_f1 ${f(u.micro_f1)}\n`,
    );
  ctx.io.stdout.write(
    `train: ${m.train.optimizer_steps} steps, ${m.train.examples_seen} examples, ` +
      `${m.train.examples_per_s.toFixed(1)} examples/s, ${m.train.seconds.toFixed(1)} s\n`,
  );
  ctx.io.stdout.write(`run saved to ${run_dir}\n`);
}

/**
 * model/model.onnx for predict and serve without Python (export.onnx), after runTraining returns: a fresh CPU fp32
 * worker exports and checks it, whatever device and precision trained the run. A failed export does not fail the
 * run: one line in the run's log and one notice, and predict stays on torch.
 */
export async function exportAfterTraining(opts: {
  run_dir: string;
  env: Record<string, string | undefined>;
  log: RunLog;
  notice?: (line: string) => void;
}): Promise<void> {
  try {
    const r = await exportRun({ run_dir: opts.run_dir, env: opts.env, log: opts.log });
    opts.log.write(`export: model.onnx kept (onnxruntime vs torch ${onnxCheckSummary(r)})`);
  } catch (e) {
    const line = e instanceof Error ? e.message.split('\n')[0] : String(e);
    opts.log.write(`export: ${line}`);
    opts.notice?.(
      `model.onnx not written (${line}); predict and serve use the torch worker (retry: refit export --run ` +
        `${opts.run_dir})`,
    );
  }
}
