// `refit serve --run DIR`: the prediction API and web pages for a trained run, until Ctrl-C / SIGTERM.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CliContext } from '../context.ts';
import { ConfigError, RefitError } from '../../errors.ts';
import { RunLog } from '../../log.ts';
import { startServer } from '../../serve/index.ts';

/** Default TCP port of `refit serve`. */
export const DEFAULT_PORT = 8080;

/** The --port value as a TCP port (0 = any free port); anything else is one line, exit 2. */
export function parsePort(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new ConfigError(`--port ${text}: must be an integer 0..65535 (0 = any free port)`, 'E_OPTION');
  return n;
}

/** Starts the server; a port or address that cannot be used is one line (E_LISTEN, exit 2). */
export async function listen(ctx: CliContext, opts: { run_dir: string; host: string; port: number; num_threads?: number }) {
  return startServer({ ...opts, log: ctx.log, env: ctx.env }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      throw new RefitError('E_LISTEN', `cannot listen on ${opts.host}:${opts.port}: ${e.code} (pick another --port or --host)`);
    }
    throw e;
  });
}

/** Resolves on Ctrl-C or SIGTERM: a server keeps serving until then, and is closed cleanly after. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** Registers `refit serve`. */
export function registerServe(program: Command, ctx: CliContext): void {
  program.command('serve')
    .description('serve a trained run: POST /v1/predict, GET /v1/model, GET /v1/health, and the web pages /, /runs, /plan')
    .requiredOption('--run <dir>', 'the run folder refit train wrote (its model/ is served)')
    .option('--port <n>', 'TCP port (0 = any free port)', String(DEFAULT_PORT))
    .option('--host <addr>', 'address to listen on (127.0.0.1 = this machine only)', '127.0.0.1')
    .option('--threads <n>', 'CPU threads for the model worker (default: cores − 1, at most 4: small batches gain nothing from more)')
    .action(async (opts: { run: string; port: string; host: string; threads?: string }) => {
      const port = parsePort(opts.port);
      const num_threads = opts.threads === undefined ? undefined : Number(opts.threads);
      if (num_threads !== undefined && !(Number.isInteger(num_threads) && num_threads > 0)) {
        throw new ConfigError(`--threads ${opts.threads}: must be a positive integer`, 'E_OPTION');
      }
      if (!existsSync(opts.run)) throw new RefitError('E_RUN_DIR', `${opts.run}: no such run folder (pass the folder refit train wrote)`);
      if (!existsSync(join(opts.run, 'model', 'refit.json'))) {
        throw new RefitError('E_NO_MODEL', `${join(opts.run, 'model')}: no trained model here (train first: refit train ... --out ${opts.run})`);
      }
      ctx.log = new RunLog(join(opts.run, 'refit.log'));
      ctx.io.stdout.write(`refit serve: loading ${join(opts.run, 'model')} …\n`);
      const server = await listen(ctx, { run_dir: opts.run, host: opts.host, port, num_threads });
      ctx.io.stdout.write(`refit serve: ${server.url}  (pages: / /runs /plan; API: POST /v1/predict, GET /v1/model, GET /v1/health)\n`);
      await untilSignal();
      await server.close();
    });
}
