// What every command receives: the streams, the environment and the log. No globals, no process.* here.
import type { Readable, Writable } from 'node:stream';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RunLog } from '../log.ts';

/** The process streams a command may use. */
export interface CliIo {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable;
}

/** Everything a command needs from its caller; `exitCode` is what main() returns. */
export interface CliContext {
  io: CliIo;
  env: Record<string, string | undefined>;
  /** The log that one-line errors point to; a run command replaces it with the run's refit.log. */
  log: RunLog;
  verbose: boolean;
  exitCode: number;
}

/** The default log for commands that have no run folder. */
export function defaultLogPath(env: Record<string, string | undefined>): string {
  if (env.REFIT_LOG) return env.REFIT_LOG;
  const state = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(state, 'refit', 'refit.log');
}
