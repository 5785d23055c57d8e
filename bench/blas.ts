// Which BLAS the worker's torch runs on, for the benchmarks' result headers: the worker's own probe
// (refit_worker.device.blas_library) under the given environment, so LD_LIBRARY_PATH switches show.
import { execFileSync } from 'node:child_process';
import { cleanEnv, workerPythonPath } from '../src/worker/index.ts';

/** The BLAS `python`'s torch loads under `env`, e.g. `OpenBLAS 0.3.21 (openblas-pthread)` or `reference BLAS`. */
export function workerBlas(python: string, env: Record<string, string | undefined>): string {
  return execFileSync(
    python,
    ['-c', 'from refit_worker.device import blas_library; print(blas_library()["name"])'],
    { env: cleanEnv({ ...env, PYTHONPATH: [workerPythonPath(), env.PYTHONPATH].filter(Boolean).join(':') }) },
  )
    .toString()
    .trim();
}
