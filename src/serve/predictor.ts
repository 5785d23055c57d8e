// The server's view of a trained model: opens R's Predictor for a run folder lazily (a run being trained has
// no model yet) and checks entities against the text before anything reaches the worker.
import { statSync } from 'node:fs';
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

/** How long a replaced model's worker lives on, so calls already sent to it can finish (ms). */
export const RELOAD_GRACE_MS = 30_000;

/**
 * Opens the run's model on first use and keeps it; a failed open is retried on the next request. When the model
 * folder is replaced (a training run served live finishes, or is rerun), the next request opens the new one.
 */
export class LazyPredictor {
  private opening: Promise<Predictor> | undefined;
  private openedKey: string | undefined;
  private readonly retired = new Set<Promise<Predictor>>();
  /** True once a model is open. */
  loaded = false;
  /** How many times a replaced model folder was opened anew. */
  reloads = 0;

  constructor(private readonly opts: { run_dir?: string; env: Record<string, string | undefined>; log: RunLog; num_threads?: number }) {}

  /** Identity of the model folder now on disk (the folder is replaced by rename, so the inode changes), or undefined. */
  private modelKey(): string | undefined {
    if (!this.opts.run_dir) return undefined;
    try {
      const st = statSync(join(this.opts.run_dir, 'model', 'refit.json'));
      return `${st.ino}:${st.mtimeMs}`;
    } catch {
      return undefined;
    }
  }

  /** The open Predictor; throws E_NO_MODEL (503) when the run has no trained model yet. */
  get(): Promise<Predictor> {
    const key = this.modelKey();
    if (this.opening && (key === undefined || key === this.openedKey)) return this.opening;
    const run_dir = this.opts.run_dir;
    if (!run_dir || key === undefined) {
      return Promise.reject(new RefitError('E_NO_MODEL', run_dir
        ? `no trained model in ${join(run_dir, 'model')} yet (training still running, or not a trained run)`
        : 'no run folder given (start with --run DIR)', { exitCode: 503 }));
    }
    if (this.opening) this.retire(this.opening);
    this.openedKey = key;
    this.opening = openPredictor({ run_dir, env: this.opts.env, log: this.opts.log, num_threads: this.opts.num_threads }).then((p) => {
      this.loaded = true;
      return p;
    }, (e) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  private retire(old: Promise<Predictor>): void {
    this.reloads++;
    this.opts.log.write(`serve: model folder replaced; opening the new one (the old worker stops in ${RELOAD_GRACE_MS} ms)`);
    this.retired.add(old);
    setTimeout(() => void this.stop(old), RELOAD_GRACE_MS).unref();
  }

  private async stop(p: Promise<Predictor>): Promise<void> {
    this.retired.delete(p);
    await p.then((x) => x.close(), () => undefined).catch(() => undefined);
  }

  /** Closes the model's worker(s): the current one and any replaced ones still in their grace period. */
  async close(): Promise<void> {
    const all = [...this.retired, ...(this.opening ? [this.opening] : [])];
    this.opening = undefined;
    await Promise.all(all.map((p) => this.stop(p)));
  }
}
