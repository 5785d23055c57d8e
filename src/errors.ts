// User-facing errors: one line, a stable code, an exit code. Only cli/main.ts formats them.
// Nothing here prints or exits.

/** Exit code for bad input or bad config (design §6). */
export const EXIT_BAD_INPUT = 2;

/** An error the user can fix; `message` is one line naming file:line or the option, and the fix. */
export class RefitError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RefitError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT_BAD_INPUT;
  }
}

/** Bad data file content: `PATH:LINE: what is wrong` (LINE omitted for file-level problems). */
export class DataError extends RefitError {
  constructor(code: string, where: { path: string; line?: number }, what: string) {
    super(code, `${where.path}${where.line !== undefined ? `:${where.line}` : ''}: ${what}`);
    this.name = 'DataError';
  }
}

/** Bad configuration key or value. */
export class ConfigError extends RefitError {
  constructor(message: string, code = 'E_CONFIG') {
    super(code, message);
    this.name = 'ConfigError';
  }
}

/** Several problems found at once (e.g. the first few bad rows); printed one per line. */
export class MultiError extends RefitError {
  readonly lines: string[];
  constructor(code: string, lines: string[]) {
    super(code, lines.join('\n'));
    this.name = 'MultiError';
    this.lines = lines;
  }
}

/** True when `e` is a user error that should be printed as its message, without a stack. */
export function isRefitError(e: unknown): e is RefitError {
  return e instanceof RefitError;
}
