// The CLI entry: parses argv with commander, runs one command, and is the only place that formats errors.
// It never calls process.exit and never reads process.env (bin/refit.mjs does both).
import { Command, CommanderError } from 'commander';
import { RefitError, fsError, isRefitError } from '../errors.ts';
import { RunLog } from '../log.ts';
import { COMMANDS } from './commands/index.ts';
import { defaultLogPath, type CliContext, type CliIo } from './context.ts';

export type { CliIo, CliContext } from './context.ts';

/** Runs refit with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  io: CliIo,
  env: Record<string, string | undefined>,
): Promise<number> {
  const ctx: CliContext = {
    io,
    env,
    log: new RunLog(defaultLogPath(env)),
    verbose: argv.includes('--verbose'),
    exitCode: 0,
  };
  const program = new Command('refit')
    .description(
      'Train, evaluate and serve BERT relation-extraction models without running out of GPU memory.',
    )
    .option('--verbose', 'print stack traces of internal errors to stderr too')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  for (const register of COMMANDS) register(program, ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    return reportError(e, ctx);
  }
}

function reportError(e: unknown, ctx: CliContext): number {
  // A write the machine refused (full disk, read-only folder, a file where a folder goes) is one line naming the path.
  const fs = isRefitError(e) ? undefined : fsError(e);
  if (fs) e = fs;
  if (e instanceof CommanderError) {
    // commander already printed its message (unknown option, --help, --version)
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
      return 0;
    return 2;
  }
  const logHint = ctx.log.path ? ` (log: ${ctx.log.path})` : '';
  if (isRefitError(e)) {
    ctx.log.write(`error ${e.code}: ${e.message}\n${e.stack ?? ''}`);
    ctx.io.stderr.write(`refit: ${e.message}\n`);
    if (ctx.verbose && e.stack) ctx.io.stderr.write(e.stack + '\n');
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  ctx.log.write(`internal error: ${err.stack ?? err.message}`);
  ctx.io.stderr.write(`refit: internal error: ${err.message}${logHint}\n`);
  if (ctx.verbose && err.stack) ctx.io.stderr.write(err.stack + '\n');
  return 1;
}

export { RefitError };
