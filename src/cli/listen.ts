// Starting the HTTP server from a command (`refit serve`, `refit train --serve`) and waiting for Ctrl-C / SIGTERM.
import type { CliContext } from './context.ts';
import { RefitError } from '../errors.ts';
import { startServer, type ServerOptions } from '../serve/index.ts';

/**
 * Starts the server; a port or address that cannot be used is one line (E_LISTEN, exit 2). Worker health
 * changes go to stderr.
 */
export async function listen(
  ctx: CliContext,
  opts: { run_dir?: string; host: string; port: number; num_threads?: number } & Partial<ServerOptions>,
) {
  const notify = (line: string) => void ctx.io.stderr.write(`refit serve: ${line}\n`);
  return startServer({ notify, ...opts, log: ctx.log, env: ctx.env }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      throw new RefitError(
        'E_LISTEN',
        `cannot listen on ${opts.host}:${opts.port}: ${e.code} (pick another --port or --host)`,
      );
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
