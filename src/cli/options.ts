// Command-line option values → numbers and choices, shared by every command (so commands never import each other).
// A bad value is one line naming the flag and the value (E_CLI_OPTION, exit 2); nothing here reads files.
import { ConfigError } from '../errors.ts';

/**
 * An integer ≥ `min` (default 1), or undefined when the flag was not given; else `--flag VALUE: expected an
 * integer ≥ MIN`.
 */
export function intOption(flag: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min)
    throw new ConfigError('E_CLI_OPTION', `${flag} ${text}: expected an integer ≥ ${min}`);
  return v;
}

/** One of `values`, or undefined when the flag was not given; else `--flag VALUE: expected one of A, B`. */
export function enumOption<T extends string>(
  flag: string,
  text: string | undefined,
  values: readonly T[],
): T | undefined {
  if (text === undefined) return undefined;
  if (!(values as readonly string[]).includes(text))
    throw new ConfigError('E_CLI_OPTION', `${flag} ${text}: expected one of ${values.join(', ')}`);
  return text as T;
}

/** A comma-separated list of `values` (each checked as enumOption), or undefined when the flag was not given. */
export function listOption<T extends string>(
  flag: string,
  text: string | undefined,
  values: readonly T[],
): T[] | undefined {
  return text === undefined ? undefined : text.split(',').map((v) => enumOption(flag, v.trim(), values)!);
}

/** CPU threads for a model or worker: an integer ≥ 1, or undefined (the command's default) when not given. */
export function threadsOption(text: string | undefined, flag = '--threads'): number | undefined {
  return intOption(flag, text, 1);
}

/** A TCP port, 0 = any free port; else `--port VALUE: must be an integer 0..65535`. */
export function portOption(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535)
    throw new ConfigError('E_CLI_OPTION', `--port ${text}: must be an integer 0..65535 (0 = any free port)`);
  return n;
}

/** A number of seconds above 0 and at most an hour (fractions allowed), returned in ms. */
export function secondsOption(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > 3600)
    throw new ConfigError(
      'E_CLI_OPTION',
      `${flag} ${text}: must be a number of seconds, more than 0 and at most 3600`,
    );
  return Math.round(n * 1000);
}

/** A count from `min` (default 1) to 1,000,000. */
export function countOption(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > 1_000_000)
    throw new ConfigError('E_CLI_OPTION', `${flag} ${text}: must be an integer ${min}..1000000`);
  return n;
}
