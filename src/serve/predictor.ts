// The server's view of a trained model: opens R's Predictor for a run folder lazily (a run being trained has
// no model yet) and checks entities against the text before anything reaches the worker.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RefitError } from '../errors.ts';
import type { RunLog } from '../log.ts';
import type { RunLog as _Log } from '../log.ts';

/** R's Predictor contract (src/run/index.ts, apis.md §R). */
export interface Predictor {
  relations: string[]; na_label: string | null; max_seq_len: number; model: Record<string, unknown>;
  predict(items: PredictItem[], opts?: { top_k?: number }): Promise<Array<{ id: number; head: string; tail: string; relation?: string;
    score?: number; top?: Array<{ relation: string; score: number }>; error?: string }>>;
  close(): Promise<void>;
}
// TODO(S): import openPredictor statically from '../run/index.ts' once R's module lands (it is not in the tree yet).
const RUN_INDEX = '../run/index.ts';
async function openPredictor(opts: { run_dir: string; env: Record<string, string | undefined>; log: _Log }): Promise<Predictor> {
  const run = (await import(RUN_INDEX)) as { openPredictor: (o: typeof opts) => Promise<Predictor> };
  return run.openPredictor(opts);
}

/** One prediction request item (the shape `refit predict` reads). */
export interface PredictItem { text: string; head: string; tail: string; head_offset?: number; tail_offset?: number }
/** One prediction result (the shape `refit predict` writes). */
export type PredictResult = Awaited<ReturnType<Predictor['predict']>>[number];

/** Why `item` cannot be predicted (an entity not in the text, an offset not pointing at it), or null when it can. */
export function entityProblem(item: PredictItem): string | null {
  for (const role of ['head', 'tail'] as const) {
    const name = item[role];
    const offset = item[`${role}_offset`];
    if (offset !== undefined) {
      if (item.text.slice(offset, offset + name.length) !== name) {
        return `${role}_offset ${offset} does not point at ${role} ${JSON.stringify(name)} in text`;
      }
    } else if (!item.text.includes(name)) {
      return `${role} ${JSON.stringify(name)} not found in text`;
    }
  }
  return null;
}

/** Opens the run's model on first use and keeps it; a failed open is retried on the next request. */
export class LazyPredictor {
  private opening: Promise<Predictor> | undefined;
  constructor(private readonly opts: { run_dir?: string; env: Record<string, string | undefined>; log: RunLog }) {}

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
    this.opening = openPredictor({ run_dir, env: this.opts.env, log: this.opts.log }).then((p) => {
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
