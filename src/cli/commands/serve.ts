// `refit serve --run DIR`: the prediction API and web pages for a trained run, until Ctrl-C / SIGTERM.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CliContext } from '../context.ts';
import { RefitError } from '../../errors.ts';
import { DEFAULT_LOG_MAX_BYTES, RunLog, logMaxBytesFromEnv } from '../../log.ts';
import { checkExtractRuns, chooseEngine, parseEngine } from '../../infer/index.ts';
import { readModelFolder } from '../../session/index.ts';
import {
  DEFAULT_RESTART_POLICY,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  REQUEST_TIMEOUT_MS,
  WORKER_TIMEOUT_MS,
} from '../../serve/index.ts';
import { countOption, portOption, secondsOption, threadsOption } from '../options.ts';
import { listen, untilSignal } from '../listen.ts';

/** Default TCP port of `refit serve`. */
export const DEFAULT_PORT = 8080;

/** Registers `refit serve`. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description(
      'serve a trained run: POST /v1/predict, GET /v1/model, GET /v1/health, and the web pages /, /runs, /plan',
    )
    .requiredOption(
      '--run <dir>',
      "the run folder refit train wrote (its model/ is served; an NER run's entities by POST /v1/extract)",
    )
    .option(
      '--re-run <dir>',
      'with an NER --run: a relation run; POST /v1/extract turns raw text into triples (/v1/predict serves it)',
    )
    .option('--port <n>', 'TCP port (0 = any free port)', String(DEFAULT_PORT))
    .option('--host <addr>', 'address to listen on (127.0.0.1 = this machine only)', '127.0.0.1')
    .option(
      '--threads <n>',
      'CPU threads for the model (default: the free cores − 1, at most 4: small batches gain nothing from more)',
    )
    .option(
      '--engine <name>',
      'onnx (onnxruntime-node in this process, no Python) or torch (the Python worker); default: onnx when ' +
        'the run has model/model.onnx',
    )
    .option(
      '--body-timeout <s>',
      'seconds a client has to send a whole request, headers and body; later: 408 and disconnected',
      String(REQUEST_TIMEOUT_MS / 1000),
    )
    .option(
      '--keep-alive-timeout <s>',
      'seconds an idle keep-alive connection stays open',
      String(KEEP_ALIVE_TIMEOUT_MS / 1000),
    )
    .option(
      '--max-connections <n>',
      'connections open at once; more are closed as they connect',
      String(MAX_CONNECTIONS),
    )
    .option(
      '--max-restarts <n>',
      'restarts in a row of a model worker that died (back-off 0.5 s, 1 s, 2 s …) before the server ' +
        'reports down (0 = never restart)',
      String(DEFAULT_RESTART_POLICY.max_restarts),
    )
    .option(
      '--worker-timeout <s>',
      'seconds the model worker may take to answer one batch; longer means it hangs: it is killed and restarted',
      String(WORKER_TIMEOUT_MS / 1000),
    )
    .option(
      '--log-max-mb <n>',
      `size of refit.log at which it is rotated to refit.log.1 (default ` +
        `${DEFAULT_LOG_MAX_BYTES / 1024 / 1024}, or REFIT_LOG_MAX_BYTES)`,
    )
    .action(
      async (opts: {
        run: string;
        reRun?: string;
        port: string;
        host: string;
        threads?: string;
        bodyTimeout: string;
        keepAliveTimeout: string;
        maxConnections: string;
        maxRestarts: string;
        workerTimeout: string;
        logMaxMb?: string;
        engine?: string;
      }) => {
        const port = portOption(opts.port);
        const num_threads = threadsOption(opts.threads);
        const limits = {
          request_timeout_ms: secondsOption('--body-timeout', opts.bodyTimeout),
          keep_alive_timeout_ms: secondsOption('--keep-alive-timeout', opts.keepAliveTimeout),
          max_connections: countOption('--max-connections', opts.maxConnections),
          restart: { max_restarts: countOption('--max-restarts', opts.maxRestarts, 0) },
          worker_timeout_ms: secondsOption('--worker-timeout', opts.workerTimeout),
        };
        const max_bytes =
          opts.logMaxMb === undefined
            ? logMaxBytesFromEnv(ctx.env)
            : countOption('--log-max-mb', opts.logMaxMb) * 1024 * 1024;
        if (!existsSync(opts.run))
          throw new RefitError(
            'E_RUN_DIR',
            `${opts.run}: no such run folder (pass the folder refit train wrote)`,
          );
        if (!existsSync(join(opts.run, 'model', 'refit.json'))) {
          throw new RefitError(
            'E_NO_MODEL',
            `${join(opts.run, 'model')}: no trained model here (train first: refit train ... --out ${opts.run})`,
          );
        }
        const requested = parseEngine('--engine', opts.engine);
        const engine = chooseEngine(opts.run, requested); // --engine onnx without model.onnx: one line before listening
        // --re-run: the relation run is the one served (/v1/predict, pages); the NER run feeds /v1/extract. An NER
        // run alone: /v1/extract answers its entities, and there is no relation run for /v1/predict.
        const ner_alone = opts.reRun === undefined && readModelFolder(opts.run).refit.task === 'ner';
        const ner_run_dir = opts.reRun !== undefined || ner_alone ? opts.run : undefined;
        if (opts.reRun !== undefined) {
          checkExtractRuns(opts.run, opts.reRun);
          chooseEngine(opts.reRun, requested);
          opts.run = opts.reRun;
        }
        ctx.log = new RunLog(join(opts.run, 'refit.log'), { max_bytes });
        ctx.io.stdout.write(`refit serve: loading ${join(opts.run, 'model')} (engine ${engine}) …\n`);
        const server = await listen(ctx, {
          run_dir: ner_alone ? undefined : opts.run,
          ner_run_dir,
          host: opts.host,
          port,
          num_threads,
          engine: requested,
          ...limits,
        });
        const api = ner_alone
          ? 'POST /v1/extract (entities), GET /v1/health'
          : `POST /v1/predict${ner_run_dir ? ', POST /v1/extract' : ''}, GET /v1/model, GET /v1/health`;
        ctx.io.stdout.write(`refit serve: ${server.url}  (pages: / /runs /plan; API: ${api})\n`);
        await untilSignal();
        await server.close();
      },
    );
}
