// Finds a Python interpreter that can `import torch, numpy` for the worker, trying candidates in order.
// Every failure is collected so the one error line says what was tried and how to install torch.
import { execFile } from 'node:child_process';
import { RefitError } from '../errors.ts';

/** How long one interpreter may take to import torch before it counts as failed. */
export const PYTHON_PROBE_TIMEOUT_MS = 60_000;

/** Interpreters tried after REFIT_PYTHON / the configured one (design §1). */
export const DEFAULT_PYTHON_CANDIDATES: readonly string[] = ['python3', '/usr/bin/python3'];

const PROBE_SCRIPT = 'import torch, numpy; print(torch.__version__)';

/** An interpreter that imports torch and numpy, with its torch version. */
export interface FoundPython {
  python: string;
  torch_version: string;
}

/** Options of findPython; `candidates` replaces the default fallbacks (tests use it to forbid fallbacks). */
export interface FindPythonOptions {
  env: Record<string, string | undefined>;
  configured?: string;
  candidates?: readonly string[];
}

/** The interpreters findPython tries, in order, without duplicates. */
export function pythonCandidates(opts: FindPythonOptions): string[] {
  const all = [opts.env.REFIT_PYTHON, opts.configured, ...(opts.candidates ?? DEFAULT_PYTHON_CANDIDATES)];
  return [...new Set(all.filter((c): c is string => typeof c === 'string' && c.length > 0))];
}

/**
 * The first candidate that imports torch and numpy; RefitError E_NO_TORCH listing every failure otherwise. An
 * interpreter chosen by name (REFIT_PYTHON, else the configured engine.python) that fails is that error at once:
 * another interpreter is not used in its place without a word.
 */
export async function findPython(opts: FindPythonOptions): Promise<FoundPython> {
  // Each probe imports torch (seconds): a process that starts workers again (serve's restarts, eval after train)
  // asks once per interpreter choice. A later failure of the found one is the worker's start error, with its stderr.
  const key = JSON.stringify([
    pythonCandidates(opts),
    opts.env.PATH,
    opts.env.PYTHONPATH,
    opts.env.PYTHONHOME,
  ]);
  const known = FOUND.get(key);
  if (known) return known;
  const found = await searchPython(opts);
  FOUND.set(key, found);
  return found;
}

/** Interpreters found in this process, by the candidates and the environment that decide the search. */
const FOUND = new Map<string, FoundPython>();

async function searchPython(opts: FindPythonOptions): Promise<FoundPython> {
  const failures: string[] = [];
  const chosen = opts.env.REFIT_PYTHON
    ? { python: opts.env.REFIT_PYTHON, name: `REFIT_PYTHON=${opts.env.REFIT_PYTHON}` }
    : opts.configured
      ? { python: opts.configured, name: `engine.python ${opts.configured}` }
      : undefined;
  for (const python of pythonCandidates(opts)) {
    const result = await probe(python, opts.env);
    if ('torch_version' in result) return { python, torch_version: result.torch_version };
    if (python === chosen?.python) {
      failures.push(`${chosen.name}: ${result.failure}; no other interpreter is tried in its place`);
      break;
    }
    failures.push(`${python}: ${result.failure}`);
  }
  throw new RefitError(
    'E_NO_TORCH',
    `no Python with PyTorch found (tried ${failures.join('; ') || 'nothing'}); install it with ` +
      '`apt-get install python3-torch` (Debian) or `pip install torch numpy`, ' +
      'or set REFIT_PYTHON to an interpreter that has torch',
  );
}

function probe(
  python: string,
  env: Record<string, string | undefined>,
): Promise<{ torch_version: string } | { failure: string }> {
  return new Promise((resolve) => {
    execFile(
      python,
      ['-c', PROBE_SCRIPT],
      { env: cleanEnv(env), timeout: PYTHON_PROBE_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ torch_version: stdout.trim() });
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') resolve({ failure: 'not found' });
        else if (code === 'EACCES') resolve({ failure: 'not executable' });
        else if (error.killed) resolve({ failure: `no answer within ${PYTHON_PROBE_TIMEOUT_MS} ms` });
        else resolve({ failure: lastLine(stderr) || error.message.split('\n')[0] });
      },
    );
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1]?.trim() ?? '';
}

/** The environment without undefined values, as child_process expects it. */
export function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
