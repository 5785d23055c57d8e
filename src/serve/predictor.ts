// The server's view of a trained model: opens R's Predictor for a run folder lazily (a run being trained has
// no model yet) and checks entities against the text before anything reaches the worker.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import { itemExample, openPredictor, type Predictor, type PredictItem, type Prediction } from '../run/index.ts';

export type { Predictor, PredictItem };
/** One prediction result (the shape `refit predict` writes). */
export type PredictResult = Prediction;

/**
 * Why `item` cannot be predicted (an entity not in the text, an offset not pointing at it), or null when it can;
 * the same check and wording as `refit predict` (R's itemExample).
 */
export function entityProblem(item: PredictItem): string | null {
  const r = itemExample(item, 0);
  return typeof r === 'string' ? r : null;
}

/** Opens the run's model on first use and keeps it; a failed open is retried on the next request. */
export class LazyPredictor {
  private opening: Promise<Predictor> | undefined;
  constructor(private readonly opts: { run_dir?: string; env: Record<string, string | undefined>; log: RunLog; num_threads?: number }) {}

  /** True once the model is open. */
  loaded = false;

  /** The open Predictor; throws E_NO_MODEL (503) when the run has no trained model yet. */
  get(): Promise<Predictor> {
    if (this.opening) return this.opening;
    const run_dir = this.opts.run_dir;
    if (!run_dir || !existsSync(join(run_dir, 'model', 'refit.json'))) {
      return Promise.reject(new RefitError('E_NO_MODEL', run_dir
        ? `no trained model in ${join(run_dir, 'model')} yet (training still running, or not a trained run)`
        : 'no run folder given (start with --run DIR)', { exitCode: 503 }));
    }
    this.opening = openPredictor({ run_dir, env: this.opts.env, log: this.opts.log, num_threads: this.opts.num_threads }).then((p) => {
      this.loaded = true;
      return p;
    }, (e) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  /** Closes the model's worker when one was opened. */
  async close(): Promise<void> {
    const p = this.opening;
    this.opening = undefined;
    if (p) await p.then((x) => x.close(), () => undefined);
  }
}
