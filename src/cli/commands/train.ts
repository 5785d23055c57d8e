// `refit train [-c FILE] [key=value …] --out DIR [--resume|--force]`: thin wrapper over run/runTraining.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CliContext } from '../context.ts';
import { resolveConfig } from '../../config/index.ts';
import { assertResumable, runTraining, runPaths, StopRequest, type Reporter, type RunMetrics } from '../../run/index.ts';
import { REPORTERS, defaultReporter } from '../../report/reporters/index.ts';
import { ConfigError } from '../../errors.ts';
import { writeReport } from '../../report/index.ts';
import { listen, parsePort, untilSignal } from './serve.ts';
import { own } from '../../own.ts';

/** The progress reporter a --progress value names (auto: tty on a terminal, plain otherwise). */
export function pickReporter(ctx: CliContext, progress: string): Reporter[] {
  if (progress === 'none') return [];
  if (progress === 'auto') return [defaultReporter(ctx.io.stdout)];
  const make = own(REPORTERS as Record<string, (out: CliContext['io']['stdout']) => Reporter>, progress); // not Object.prototype's
  if (!make) throw new ConfigError('E_CLI_OPTION', `--progress ${progress}: use auto, tty, plain, jsonl or none`);
  return [make(ctx.io.stdout)];
}

/** Prints the metrics of a finished run as a few lines. */
export function printSummary(ctx: CliContext, run_dir: string, m: RunMetrics): void {
  const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(4));
  for (const split of ['valid', 'test'] as const) {
    const b = m[split];
    if (b) ctx.io.stdout.write(`${split}: accuracy ${f(b.accuracy)}  macro_f1 ${f(b.macro_f1)}  micro_f1 ${f(b.micro_f1)}\n`);
  }
  // deepke-lm with DeepKE's gold-relation type words: the score without them, next to the one with them.
  const u = m.test_without_types;
  if (u) ctx.io.stdout.write(`test without type words (no label leak): accuracy ${f(u.accuracy)}  macro_f1 ${f(u.macro_f1)}  micro_f1 ${f(u.micro_f1)}\n`);
  ctx.io.stdout.write(`train: ${m.train.optimizer_steps} steps, ${m.train.examples_seen} examples, ${m.train.examples_per_s.toFixed(1)} examples/s, ${m.train.seconds.toFixed(1)} s\n`);
  ctx.io.stdout.write(`run saved to ${run_dir}\n`);
}

/**
 * Writes the run's report.html, also after a failed run (its events say how far it got). A report
 * that cannot be written is logged, never the reason a run fails.
 */
export async function writeRunReport(ctx: CliContext, run_dir: string): Promise<void> {
  try {
    await writeReport({ run_dir });
  } catch (e) {
    ctx.log.write(`report.html not written: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  }
}

/** Starts the web pages and API on a run folder that is being written (`refit train --serve`). */
async function serveRun(ctx: CliContext, run_dir: string, o: { port: string; host: string }) {
  const server = await listen(ctx, { run_dir, host: o.host, port: parsePort(o.port) });
  ctx.io.stderr.write(`refit train: watch the run at ${server.url}/runs\n`);
  return server;
}

function defaultOut(): string {
  return join('runs', `run-${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`);
}

/**
 * Ctrl-C / SIGTERM during a run: the first asks the run to stop at its next safe point (a checkpoint is kept and
 * run_end says `interrupted`); the second records the end, kills the worker and exits at once, by the same signal.
 */
export function stopOnSignals(ctx: CliContext): { stop: StopRequest; detach(): void } {
  const stop = new StopRequest();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.requested) {
      stop.request(sig);
      ctx.io.stderr.write(`\nrefit: ${sig}: stopping after the current step and keeping a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again stops at once)\n`);
      return;
    }
    ctx.io.stderr.write(`refit: ${sig} again: stopping at once\n`);
    stop.force(sig);
    detach();
    process.kill(process.pid, sig); // no handler left: the default action ends the process, with this signal as its status
  };
  const detach = () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { stop, detach };
}

/** Registers `refit train`. */
export function registerTrain(program: Command, ctx: CliContext): void {
  program.command('train')
    .description('train a relation classifier; writes a run folder (config.yaml, plan.json, events.jsonl, metrics.json, model/)')
    .argument('[overrides...]', 'config overrides as key=value (e.g. data.train=train.csv model.preset=bert-mini)')
    .option('-c, --config <file|conf/>', 'YAML config file, or a DeepKE conf folder (its Hydra defaults list; key=value overrides as DeepKE takes them)')
    .option('--out <dir>', 'run folder (default: config out, else runs/run-DATE-TIME)')
    .option('--resume', 'continue the interrupted run in --out from its last checkpoint')
    .option('--force', 'replace an existing run folder')
    .option('--progress <kind>', 'auto, tty, plain, jsonl or none', 'auto')
    .option('--threads <n>', 'CPU threads for the worker (default: all cores)')
    .option('--serve', 'serve the live run page (/runs), the predictor and the planner while training, and after it until Ctrl-C')
    .option('--port <n>', 'port for --serve (0 = any free port)', '8080')
    .option('--host <addr>', 'address for --serve', '127.0.0.1')
    .action(async (overrides: string[], o: { config?: string; out?: string; resume?: boolean; force?: boolean; progress: string; threads?: string; serve?: boolean; port: string; host: string }) => {
      const threads = o.threads === undefined ? undefined : Number(o.threads);
      if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new ConfigError('E_CLI_OPTION', `--threads ${o.threads}: expected an integer ≥ 1`);
      if (o.resume && !o.out) throw new ConfigError('E_CLI_OPTION', '--resume needs --out DIR (the run folder to continue)');
      if (o.resume) assertResumable(o.out!);
      // A resume starts from the run's own config.yaml; overrides (and a -c file) are checked against it (run/resume-config.ts).
      const file = o.resume && !o.config ? runPaths(o.out!).config : o.config;
      const config = resolveConfig({ file, overrides, warn: (l) => ctx.io.stderr.write(`refit: warning: ${l}\n`) });
      if ((config.device_ids?.length ?? 0) > 1) {
        ctx.io.stderr.write(`refit: warning: device_ids ${config.device_ids!.join(',')} (DeepKE's use_multi_gpu): refit trains on one device (${config.device}); DataParallel is planned by refit plan, not trained\n`);
      }
      const out = o.out ?? config.out ?? defaultOut();
      const server = o.serve ? await serveRun(ctx, out, o) : undefined;
      let result;
      const signals = stopOnSignals(ctx);
      try {
        result = await runTraining({ config, out, resume: o.resume, force: o.force, env: ctx.env, reporters: pickReporter(ctx, o.progress), num_threads: threads, on_log: (log) => { ctx.log = log; }, stop: signals.stop,
          notice: (line) => ctx.io.stderr.write(`refit: note: ${line}\n`) });
      } finally {
        signals.detach();
        if (existsSync(runPaths(out).config)) await writeRunReport(ctx, out);
        if (server && !result) await server.close();
      }
      if (o.progress !== 'jsonl') printSummary(ctx, out, result.metrics);
      if (server) {
        ctx.io.stderr.write(`refit train: done; still serving ${out} (Ctrl-C to stop)\n`);
        await untilSignal();
        await server.close();
      }
    });
}
