// `refit train [-c FILE] [key=value …] --out DIR [--resume|--force]`: thin wrapper over run/runTraining, then
// infer/exportRun when export.onnx is set (training never imports infer/).
import type { Command } from 'commander';
import { join } from 'node:path';
import type { CliContext } from '../context.ts';
import { resolveConfig } from '../../config/index.ts';
import { assertResumable, runTraining, StopRequest } from '../../run/index.ts';
import { runPaths } from '../../session/index.ts';
import { followsOnly, runFollowerNode, runRanks } from '../../run/ranks.ts';
import { ConfigError } from '../../errors.ts';
import { WorkerProcess } from '../../worker/index.ts';
import { listen, untilSignal } from '../listen.ts';
import { portOption, threadsOption } from '../options.ts';
import { writeReport } from '../../report/index.ts';
import { exportAfterTraining, pickReporter, printSummary } from '../run-output.ts';

/** Starts the web pages and API on a run folder that is being written (`refit train --serve`). */
async function serveRun(ctx: CliContext, run_dir: string, o: { port: string; host: string }) {
  const server = await listen(ctx, { run_dir, host: o.host, port: portOption(o.port) });
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
      ctx.io.stderr.write(
        `\nrefit: ${sig}: stopping after the current step and keeping a checkpoint (` +
          `${sig === 'SIGINT' ? 'Ctrl-C' : sig} again stops at once)\n`,
      );
      return;
    }
    ctx.io.stderr.write(`refit: ${sig} again: stopping at once\n`);
    stop.force(sig);
    detach();
    // no handler left: the default action ends the process, with this signal as its status
    process.kill(process.pid, sig);
  };
  const detach = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { stop, detach };
}

/** Registers `refit train`. */
export function registerTrain(program: Command, ctx: CliContext): void {
  program
    .command('train')
    .description(
      'train a relation classifier; writes a run folder (config.yaml, plan.json, events.jsonl, metrics.json, model/)',
    )
    .argument(
      '[overrides...]',
      'config overrides as key=value (e.g. data.train=train.csv model.preset=bert-mini)',
    )
    .option(
      '-c, --config <file|conf/>',
      'YAML config file, or a DeepKE conf folder (its Hydra defaults list; key=value overrides as DeepKE takes them)',
    )
    .option('--out <dir>', 'run folder (default: config out, else runs/run-DATE-TIME)')
    .option('--resume', 'continue the interrupted run in --out from its last checkpoint')
    .option(
      '--force',
      'replace an existing run folder; with --resume: continue even though its relation list, data files or ' +
        'config.yaml changed (recorded in events.jsonl)',
    )
    .option('--progress <kind>', 'auto, tty, plain, jsonl or none', 'auto')
    .option(
      '--threads <n>',
      'CPU threads for the worker (default: the free cores, at most 4; with several ranks on CPU: shared out)',
    )
    .option(
      '--nproc <n>',
      'ranks on this machine, one process each (distributed.nproc_per_node; auto = the visible GPUs)',
    )
    .option(
      '--serve',
      'serve the live run page (/runs), the predictor and the planner while training, and after it until Ctrl-C',
    )
    .option('--port <n>', 'port for --serve (0 = any free port)', '8080')
    .option('--host <addr>', 'address for --serve', '127.0.0.1')
    .action(
      async (
        overrides: string[],
        o: {
          config?: string;
          out?: string;
          resume?: boolean;
          force?: boolean;
          progress: string;
          threads?: string;
          nproc?: string;
          serve?: boolean;
          port: string;
          host: string;
        },
      ) => {
        const threads = threadsOption(o.threads);
        if (o.resume && !o.out)
          throw new ConfigError('E_CLI_OPTION', '--resume needs --out DIR (the run folder to continue)');
        if (o.resume) assertResumable(o.out!);
        // A resume starts from the run's own config.yaml; overrides (and a -c file) are checked against it
        // (run/resume-config.ts).
        const file = o.resume && !o.config ? runPaths(o.out!).config : o.config;
        const nproc = o.nproc === undefined ? [] : [`distributed.nproc_per_node=${o.nproc}`];
        const config = resolveConfig({
          file,
          overrides: [...overrides, ...nproc],
          warn: (l) => ctx.io.stderr.write(`refit: warning: ${l}\n`),
        });
        if (
          (config.device_ids?.length ?? 0) > 1 &&
          config.distributed.nproc_per_node === 1 &&
          config.device !== 'cpu'
        ) {
          ctx.io.stderr.write(
            `refit: note: device_ids ${config.device_ids!.join(',')} (DeepKE's use_multi_gpu): trained as ` +
              `DDP, one process per GPU (not DataParallel)\n`,
          );
        }
        // Not node 0 (distributed.node_rank ≥ 1, or RANK ≥ 1 under torchrun): start this machine's ranks
        // and follow.
        if (config.distributed.node_rank > 0 || Number(ctx.env.RANK ?? 0) > 0) {
          const ranks = runRanks({
            config,
            python: config.engine.python ?? 'python3',
            env: ctx.env,
            num_threads: threads,
          });
          if (followsOnly(ranks)) {
            ctx.io.stderr.write(
              `refit train: ${ranks.reason}; this machine follows rank 0 (only node 0 writes the run folder)\n`,
            );
            await runFollowerNode({ config, env: ctx.env, log: ctx.log, num_threads: threads });
            ctx.io.stderr.write('refit train: ranks finished\n');
            return;
          }
        }
        const out = o.out ?? config.out ?? defaultOut();
        const server = o.serve ? await serveRun(ctx, out, o) : undefined;
        let result;
        const signals = stopOnSignals(ctx);
        const notice = (line: string) => ctx.io.stderr.write(`refit: note: ${line}\n`);
        try {
          result = await runTraining({
            config,
            out,
            resume: o.resume,
            force: o.force,
            env: ctx.env,
            reporters: pickReporter(ctx, o.progress),
            num_threads: threads,
            on_log: (log) => {
              ctx.log = log;
            },
            stop: signals.stop,
            notice,
            write_report: (run_dir) => writeReport({ run_dir, note: notice }),
          });
          if (config.export.onnx) {
            // A second Ctrl-C during the export kills its worker too, as it does the training's.
            const unforce = signals.stop.onForce(() => WorkerProcess.killAll());
            await exportAfterTraining({ run_dir: out, env: ctx.env, log: ctx.log, notice });
            unforce();
          }
        } finally {
          signals.detach();
          if (server && !result) await server.close();
        }
        if (o.progress !== 'jsonl') printSummary(ctx, out, result.metrics);
        if (server) {
          ctx.io.stderr.write(`refit train: done; still serving ${out} (Ctrl-C to stop)\n`);
          await untilSignal();
          await server.close();
        }
      },
    );
}
