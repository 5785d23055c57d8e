// The CLI run in this process (src/cli/main.ts), for tests that call many commands: the exit code and what it
// printed, with no standard input.
import { Readable, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

/** Runs `refit ARGV` in-process with `env`; returns the exit code and what it printed. */
export async function runInProcess(
  argv: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const sink = (key: keyof typeof out) =>
    new Writable({
      write(chunk, _e, done) {
        out[key] += String(chunk);
        done();
      },
    });
  const io = { stdout: sink('stdout'), stderr: sink('stderr'), stdin: Readable.from([]) };
  const code = await main(argv, io, env);
  return { code, ...out };
}
