// What a prediction uses when the caller does not say: predict.top_k and predict.na_threshold of the run's config.yaml
// (the config defaults for a run without one). Resolved here once, for `refit predict` and the server alike.
import { existsSync } from 'node:fs';
import { resolveConfig } from '../config/index.ts';
import { runPaths } from '../session/index.ts';

/**
 * The run's prediction defaults: how many ranked relations to return, and the score under which the NA label
 * is answered.
 */
export interface PredictDefaults {
  top_k: number;
  na_threshold: number;
}

/** predict.top_k and predict.na_threshold from `<run_dir>/config.yaml`, else the config defaults. */
export function predictDefaults(run_dir: string): PredictDefaults {
  const file = runPaths(run_dir).config;
  const c = resolveConfig(existsSync(file) ? { file, overrides: [] } : { overrides: [] });
  return { top_k: c.predict.top_k, na_threshold: c.predict.na_threshold };
}
