// User-facing errors: one line, a stable code, an exit code. Only cli/main.ts formats them.
// Nothing here prints or exits. Every error class takes the code first, then what is wrong.

/** Exit code for bad input or bad config (design §6). */
export const EXIT_BAD_INPUT = 2;

/** Exit code for the environment (a full disk, a read-only folder, a folder another run holds). */
export const EXIT_ENVIRONMENT = 1;

/**
 * The exit code of every error code refit raises. 2: the input or the config is wrong (fix it and rerun); 1: the
 * machine is in the way (disk, permissions, a crashed worker, a missing install). A code not listed is 2.
 * E_INTERRUPTED's exit code is the signal's (130 for SIGINT, 143 for SIGTERM).
 */
export const EXIT_CODES = Object.freeze({
  // configuration and command line
  E_CONFIG: 2,
  E_CONFIG_VALUE: 2,
  E_CONFIG_KEY: 2,
  E_CONFIG_FILE: 2,
  E_CONFIG_YAML: 2,
  E_CONFIG_HYDRA: 2,
  E_CONFIG_OVERRIDE: 2,
  E_CONFIG_MISSING: 2,
  E_OPTION: 2,
  E_CLI_OPTION: 2,
  E_INPUT: 2,
  E_SIZE: 2,
  E_PRECISION: 2,
  E_ATTENTION: 2,
  E_BATCH_SIZE: 2,
  E_MICRO_BATCH: 2,
  E_MEMORY_PLAN: 2,
  E_FIT: 2,
  E_GPU: 2,
  E_NO_CUDA: 2,
  E_DOCTOR_INPUT: 2,
  E_DOCTOR_ENGINE: 2,
  E_LISTEN: 2,
  // data files
  E_DATA: 2,
  E_DATA_FILE: 2,
  E_DATA_FOLDER: 2,
  E_DATA_FORMAT: 2,
  E_DATA_JSON: 2,
  E_DATA_CSV: 2,
  E_DATA_QUOTE: 2,
  E_DATA_EMPTY: 2,
  E_DATA_FIELD: 2,
  E_DATA_ROW: 2,
  E_DATA_SPAN: 2,
  E_DATA_RELATION: 2,
  E_DATA_RELATIONS: 2,
  E_DATA_UNLABELLED: 2,
  E_DATA_ENCODING: 2,
  E_DATA_BINARY: 2,
  E_NO_DATA: 2,
  E_DATASET_FILE: 2,
  E_VOCAB: 2,
  E_NO_VOCAB: 2,
  E_MARKER_VOCAB: 2,
  E_PREDICT_BAD_ROWS: 2,
  E_ENDIAN: 2,
  // models, checkpoints and run folders
  E_MODEL: 2,
  E_MODEL_FILES: 2,
  E_MODEL_CONFIG: 2,
  E_MODEL_SHAPE: 2,
  E_MODEL_NOT_LOCAL: 2,
  E_NO_MODEL: 2,
  E_NUM_RELATIONS: 2,
  E_DEEPKE_CHECKPOINT: 2,
  E_RUN_DIR: 2,
  E_RUN_FILE: 2,
  E_RUN_MODEL: 2,
  E_RUN_SHAPE: 2,
  E_RUN_EVENTS: 2,
  E_RUN_RELATIONS: 2,
  E_RESUME: 2,
  E_RESUME_CHANGED: 2,
  E_RESUME_DIFFERENT: 2,
  E_MANIFEST: 2,
  E_OUT_EXISTS: 2,
  E_OUT_NOT_DIR: 2,
  E_OUTPUT_IS_DIR: 2,
  E_OUTPUT_NOT_DIR: 2,
  E_WRITE: 2,
  E_ONNX_HEAD: 2,
  E_ONNX_MODEL: 2,
  E_ONNX_CHECK: 2,
  E_NO_ONNX: 2,
  E_OOM_UNRECOVERABLE: 2,
  // a path of the wrong kind is the user's input; the other file-system refusals are the machine's
  E_FS_ENOTDIR: 2,
  E_FS_EISDIR: 2,
  E_FS_ENAMETOOLONG: 2,
  E_FS_ENOSPC: 1,
  E_FS_EDQUOT: 1,
  E_FS_EROFS: 1,
  E_FS_EACCES: 1,
  E_FS_EPERM: 1,
  E_FS_EEXIST: 1,
  E_FS_EMFILE: 1,
  E_FS_ENFILE: 1,
  E_FS_EIO: 1,
  E_FS_ELOOP: 1,
  E_DISK_FULL: 1,
  E_CACHE_WRITE: 1,
  E_RUN_LOCKED: 1,
  // the installation and the worker
  E_NO_TORCH: 2,
  E_WORKER_MISSING: 2,
  E_NO_ORT: 2,
  E_NO_CHARTJS: 1,
  E_WORKER_CRASH: 1,
  E_ONNX_PARITY: 1,
  // the worker's own error codes (its E_INTERNAL is no RefitError: it is reported as an internal error)
  E_BAD_COMMAND: 2,
  E_CHECKPOINT_ARCH: 2,
  E_DATASET: 2,
  E_DEVICE: 2,
  E_EXPORT: 2,
  E_MODEL_VOCAB: 2,
  E_OOM: 2,
  E_PROTOCOL: 2,
  E_INTERRUPTED: 130,
} as const);

/** A code of EXIT_CODES: error constructors take only these, so a new code gets its exit code here first. */
export type ErrorCode = keyof typeof EXIT_CODES;

/** The exit code of error code `code` (EXIT_CODES; 2 for a code it does not list). */
export function exitCodeOf(code: string): number {
  return Object.hasOwn(EXIT_CODES, code) ? EXIT_CODES[code as ErrorCode] : EXIT_BAD_INPUT;
}

/**
 * An error the user can fix; `message` is one line naming file:line or the option, and the fix. Its exit code
 * is `exitCodeOf(code)`.
 */
export class RefitError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  /**
   * `exitCode` is only for E_INTERRUPTED, whose exit code depends on the signal; every other code takes
   * EXIT_CODES'.
   */
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RefitError';
    this.code = code;
    this.exitCode = options.exitCode ?? exitCodeOf(code);
  }
}

/** Bad data file content: `PATH:LINE: what is wrong` (LINE omitted for file-level problems). */
export class DataError extends RefitError {
  constructor(code: ErrorCode, where: { path: string; line?: number }, what: string) {
    super(code, `${where.path}${where.line !== undefined ? `:${where.line}` : ''}: ${what}`);
    this.name = 'DataError';
  }
}

/** Bad configuration key or value. */
export class ConfigError extends RefitError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'ConfigError';
  }
}

/** Several problems found at once (e.g. the first few bad rows); printed one per line. */
export class MultiError extends RefitError {
  readonly lines: string[];
  constructor(code: ErrorCode, lines: string[]) {
    super(code, lines.join('\n'));
    this.name = 'MultiError';
    this.lines = lines;
  }
}

/** True when `e` is a user error that should be printed as its message, without a stack. */
export function isRefitError(e: unknown): e is RefitError {
  return e instanceof RefitError;
}

/** The machine, not the input, is in the way: `PATH: what (CODE)`; its code exits 1 (EXIT_CODES). */
export class EnvironmentError extends RefitError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.name = 'EnvironmentError';
  }
}

/** Errno codes of a write the environment refused, in words. */
const FS_CAUSES: Readonly<Record<string, string>> = Object.freeze({
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, not a file',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
});

/** The errno code, message and path of a Node file-system error, or undefined for anything else. */
function errnoOf(e: unknown): { code: string; path?: string } | undefined {
  if (!(e instanceof Error)) return undefined;
  const x = e as NodeJS.ErrnoException & { dest?: string };
  if (typeof x.code !== 'string' || !FS_CAUSES[x.code] || typeof x.syscall !== 'string') return undefined;
  return { code: x.code, path: x.dest ?? x.path };
}

/**
 * A file-system error (ENOSPC, EROFS, EACCES, ENOTDIR, EISDIR, …) as one line naming the path; undefined when
 * `e` is not one.
 */
export function fsError(e: unknown, where?: string): RefitError | undefined {
  const x = errnoOf(e);
  if (!x) return undefined;
  const path = where ?? x.path ?? '(unknown path)';
  const line = `${path}: ${FS_CAUSES[x.code]} (${x.code})`;
  // A path of the wrong kind (a file where a folder goes and back) is the user's input; the rest is the machine.
  if (x.code === 'ENOTDIR' || x.code === 'EISDIR' || x.code === 'ENAMETOOLONG')
    return new RefitError(`E_FS_${x.code}` as ErrorCode, line, { cause: e });
  return new EnvironmentError(`E_FS_${x.code}` as ErrorCode, line, { cause: e });
}

/**
 * Python's `[Errno 28] No space left on device: '/x'` (a worker error text) as the same one line; undefined
 * otherwise.
 */
export function pythonOsError(text: string, where?: string): RefitError | undefined {
  const m = /\[Errno (\d+)\] ([^:]+?)(?:: '([^']*)')?(?:$|\n| ->)/.exec(text);
  if (!m) return undefined;
  const byNumber: Record<string, string> = {
    '28': 'ENOSPC',
    '122': 'EDQUOT',
    '30': 'EROFS',
    '13': 'EACCES',
    '1': 'EPERM',
    '20': 'ENOTDIR',
    '21': 'EISDIR',
    '5': 'EIO',
    '24': 'EMFILE',
  };
  const code = byNumber[m[1]];
  if (!code) return undefined;
  const err = Object.assign(new Error(m[2]), { code, syscall: 'write', path: m[3] ?? where });
  return fsError(err);
}
