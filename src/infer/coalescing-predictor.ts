// What the worker's and the ONNX predictors share: calls that arrive while one batch runs wait and then go
// together as one batch, and each row's probabilities become a ranked Prediction. No I/O of its own.
import type { LoadedModel } from '../session/index.ts';
import type { PredictItem, Prediction, Predictor } from './predictor.ts';

/** One item after a batch: its probabilities over the relations, or why it could not be encoded. */
export type ScoredRow = { item: PredictItem; probs?: number[]; error?: string };

type Pending = {
  items: PredictItem[];
  top_k: number;
  na_threshold: number;
  resolve: (p: Prediction[]) => void;
  reject: (e: unknown) => void;
};

/** A Predictor whose engine scores a list of items (`score`); queueing and ranking are done here. */
export abstract class CoalescingPredictor implements Predictor {
  readonly relations: string[];
  readonly na_label: string | null;
  readonly max_seq_len: number;
  readonly model: Record<string, unknown>;
  abstract readonly lost: Promise<Error>;
  abstract readonly pid: number | undefined;
  private queue: Pending[] = [];
  private busy = false;

  /** `extra` joins the model description (/v1/model), e.g. the engine. */
  constructor(
    protected readonly loaded: LoadedModel,
    extra: Record<string, unknown> = {},
  ) {
    this.relations = loaded.relations.names;
    this.na_label = loaded.relations.na_label;
    this.max_seq_len = loaded.refit.max_seq_len;
    this.model = {
      dir: loaded.dir,
      ...loaded.dims,
      head: loaded.refit.head,
      lowercase: loaded.refit.lowercase,
      num_labels: loaded.refit.num_labels,
      ...(loaded.refit.rnn ? { rnn: loaded.refit.rnn } : {}),
      ...extra,
    };
  }

  /** Scores `items` in input order (one row per item). */
  protected abstract score(items: PredictItem[]): Promise<ScoredRow[]>;
  abstract ping(timeout_ms: number): Promise<void>;
  abstract close(): Promise<void>;

  predict(items: PredictItem[], opts: { top_k?: number; na_threshold?: number } = {}): Promise<Prediction[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        items,
        top_k: Math.max(1, opts.top_k ?? 3),
        na_threshold: opts.na_threshold ?? 0,
        resolve,
        reject,
      });
      void this.drain();
    });
  }

  // Calls that arrive while a batch runs wait and then go to the engine together, as one batch.
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0);
        try {
          const all = await this.score(batch.flatMap((p) => p.items));
          let k = 0;
          for (const p of batch) {
            p.resolve(all.slice(k, k + p.items.length).map((r, i) => this.shape(r, i, p)));
            k += p.items.length;
          }
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private shape(r: ScoredRow, id: number, p: Pending): Prediction {
    const base = { id, head: r.item.head, tail: r.item.tail };
    if (!r.probs) return { ...base, error: r.error ?? 'not predicted' };
    const ranked = r.probs
      .map((score, i) => ({ relation: this.relations[i], score }))
      .sort((a, b) => b.score - a.score);
    const best = ranked[0];
    const relation = best.score < p.na_threshold && this.na_label !== null ? this.na_label : best.relation;
    return { ...base, relation, score: best.score, top: ranked.slice(0, p.top_k) };
  }
}
