// What the worker's and the ONNX predictors share: each item is located and encoded once here, the engine only
// turns encoded rows into logits, and each row's probabilities become a ranked Prediction. No queue (callers that
// come together are batched by PredictBatcher, before this) and no I/O of its own.
import type { Example } from '../data/types.ts';
import { encodeForHead, type EncodedExample } from '../encode/index.ts';
import { softmax } from '../session/index.ts';
import type { LoadedModel } from '../session/index.ts';
import { itemExample, type PredictItem, type Prediction, type Predictor } from './predict-item.ts';

/** One item after encoding: its encoded row, or why it could not be encoded (one line). */
export type EncodedItem =
  { item: PredictItem; encoded: EncodedExample } | { item: PredictItem; error: string };

/** A Predictor whose engine scores encoded rows (`logits`); locating, encoding and ranking are done here. */
export abstract class EnginePredictor implements Predictor {
  readonly relations: string[];
  readonly na_label: string | null;
  readonly max_seq_len: number;
  readonly model: Record<string, unknown>;
  abstract readonly lost: Promise<Error>;
  abstract readonly pid: number | undefined;

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

  /** Logits of `rows` (each at most max_seq_len ids), one row each, in the order given. */
  protected abstract logits(rows: EncodedExample[]): Promise<number[][]>;
  abstract ping(timeout_ms: number): Promise<void>;
  abstract close(): Promise<void>;

  /** Each item located and encoded exactly once (the only tokenization on the predict path). */
  encode(items: PredictItem[]): EncodedItem[] {
    const enc = {
      tokenizer: this.loaded.text.tokenizer,
      max_seq_len: this.max_seq_len,
      markers: this.loaded.text.markers,
      deepke_lm: this.loaded.text.deepke_lm,
    };
    return items.map((item, i) => {
      const ex: Example | string = itemExample(item, i + 1);
      if (typeof ex === 'string') return { item, error: ex };
      try {
        return { item, encoded: encodeForHead({ ...enc, example: ex }) };
      } catch (e) {
        return { item, error: e instanceof Error ? e.message.split('\n')[0] : String(e) };
      }
    });
  }

  async predict(
    items: PredictItem[],
    opts: { top_k?: number; na_threshold?: number } = {},
  ): Promise<Prediction[]> {
    const rows = this.encode(items);
    const good = rows.flatMap((r) => ('encoded' in r ? [r.encoded] : []));
    const logits = good.length ? await this.logits(good) : [];
    const top_k = Math.max(1, opts.top_k ?? 3);
    const na_threshold = opts.na_threshold ?? 0;
    let k = 0;
    return rows.map((r, id) => {
      const base = { id, head: r.item.head, tail: r.item.tail };
      if ('error' in r) return { ...base, error: r.error };
      const ranked = softmax(logits[k++])
        .map((score, i) => ({ relation: this.relations[i], score }))
        .sort((a, b) => b.score - a.score);
      const best = ranked[0];
      const relation = best.score < na_threshold && this.na_label !== null ? this.na_label : best.relation;
      return { ...base, relation, score: best.score, top: ranked.slice(0, top_k) };
    });
  }
}
