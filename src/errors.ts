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

/** Exit code for the environment (a full disk, a read-only folder, a folder another run holds). */
export const EXIT_ENVIRONMENT = 1;

/** The machine, not the input, is in the way: `PATH: what (CODE)`; exit 1. */
export class EnvironmentError extends RefitError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { exitCode: EXIT_ENVIRONMENT, cause: options.cause });
    this.name = 'EnvironmentError';
  }
}

/** Errno codes of a write the environment refused, in words. */
const FS_CAUSES: Readonly<Record<string, string>> = Object.freeze({
  ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system',
  EACCES: 'permission denied', EPERM: 'operation not permitted', ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, not a file', EEXIST: 'already exists', EMFILE: 'too many open files', ENFILE: 'too many open files',
  EIO: 'input/output error', ENAMETOOLONG: 'name too long', ELOOP: 'too many symbolic links',
});

/** The errno code, message and path of a Node file-system error, or undefined for anything else. */
function errnoOf(e: unknown): { code: string; path?: string } | undefined {
  if (!(e instanceof Error)) return undefined;
  const x = e as NodeJS.ErrnoException & { dest?: string };
  if (typeof x.code !== 'string' || !FS_CAUSES[x.code] || typeof x.syscall !== 'string') return undefined;
  return { code: x.code, path: x.dest ?? x.path };
}

/** A file-system error (ENOSPC, EROFS, EACCES, ENOTDIR, EISDIR, …) as one line naming the path; undefined when `e` is not one. */
export function fsError(e: unknown, where?: string): RefitError | undefined {
  const x = errnoOf(e);
  if (!x) return undefined;
  const path = where ?? x.path ?? '(unknown path)';
  const line = `${path}: ${FS_CAUSES[x.code]} (${x.code})`;
  // A path of the wrong kind (a file where a folder goes and back) is the user's input; the rest is the machine.
  if (x.code === 'ENOTDIR' || x.code === 'EISDIR' || x.code === 'ENAMETOOLONG') return new RefitError(`E_FS_${x.code}`, line, { cause: e });
  return new EnvironmentError(`E_FS_${x.code}`, line, { cause: e });
}

/** Python's `[Errno 28] No space left on device: '/x'` (a worker error text) as the same one line; undefined otherwise. */
export function pythonOsError(text: string, where?: string): RefitError | undefined {
  const m = /\[Errno (\d+)\] ([^:]+?)(?:: '([^']*)')?(?:$|\n| ->)/.exec(text);
  if (!m) return undefined;
  const byNumber: Record<string, string> = { '28': 'ENOSPC', '122': 'EDQUOT', '30': 'EROFS', '13': 'EACCES', '1': 'EPERM', '20': 'ENOTDIR', '21': 'EISDIR', '5': 'EIO', '24': 'EMFILE' };
  const code = byNumber[m[1]];
  if (!code) return undefined;
  const err = Object.assign(new Error(m[2]), { code, syscall: 'write', path: m[3] ?? where });
  return fsError(err);
}
