// Evaluation: logits from the worker over an opened dataset, mapped back to example order, then metrics in TS.
import { planEvalBatches } from '../batch/index.ts';
import { computeMetrics, type MetricBlock } from '../metrics/index.ts';
import type { RelationSet } from '../data/types.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import type { EvalResultEvent } from '../worker/protocol.ts';
import { expect } from './worker-session.ts';

/** Examples per evaluation batch (no gradients, so larger than training micro-batches are fine). */
export const EVAL_BATCH_SIZE = 64;

/** What `eval` is asked over an opened dataset: its name, example lengths, padding and the answer's tag. */
export interface EvalRequest {
  dataset: string;
  lengths: ArrayLike<number>;
  padding: 'dynamic' | 'max';
  max_seq_len: number;
  batch_size?: number;
  tag: string;
}

/**
 * The worker's `eval` answer over examples 0..n-1 of an opened dataset, and for each answer row the example it
 * belongs to (batches are planned by length, not in example order).
 */
export async function evalAnswer(
  worker: SupervisedWorker,
  opts: EvalRequest,
): Promise<{ ev: EvalResultEvent; order: number[] }> {
  const size = opts.batch_size ?? EVAL_BATCH_SIZE;
  const batches = planEvalBatches({
    lengths: opts.lengths,
    batch_size: size,
    padding: opts.padding,
    max_seq_len: opts.max_seq_len,
  });
  try {
    const ev = await expect(
      worker,
      { type: 'eval', dataset: opts.dataset, batches, tag: opts.tag },
      'eval_result',
    );
    return { ev, order: batches.flatMap((b) => b.indices) };
  } catch (e) {
    // Evaluation holds no gradients, so an OOM here only means the batches are too big: halve and retry.
    if (size > 1 && e instanceof Error && /out of memory/i.test(e.message))
      return evalAnswer(worker, { ...opts, batch_size: Math.floor(size / 2) });
    throw e;
  }
}

/** Rows of an answer (`rows[k]` for example `order[k]`) put back in example order; n = the number of examples. */
export function inExampleOrder<T>(rows: readonly T[], order: readonly number[], what: string): T[] {
  if (rows.length !== order.length)
    throw new Error(`worker returned ${rows.length} ${what} rows for ${order.length} examples`);
  const out: T[] = new Array(order.length);
  order.forEach((i, k) => (out[i] = rows[k]));
  return out;
}

/** Logits for examples 0..n-1 of an opened dataset, in example order. */
export async function evalLogits(worker: SupervisedWorker, opts: EvalRequest): Promise<number[][]> {
  const { ev, order } = await evalAnswer(worker, opts);
  // a relation head answers logits (the token head tags and scores: ner-eval.ts)
  return inExampleOrder(ev.logits ?? [], order, 'logit');
}

/** Softmax of one logit row (max-subtracted for stability). */
export function softmax(row: readonly number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Index of the largest value (first on ties). */
export function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Metric block (plus mean cross-entropy) of logits against gold relation names. */
export function scoreLogits(opts: {
  logits: number[][];
  gold: string[];
  relations: RelationSet;
  semeval?: boolean;
}): MetricBlock & { loss: number } {
  const names = opts.relations.names;
  const pred = opts.logits.map((row) => names[argmax(row)]);
  let loss = 0;
  opts.logits.forEach((row, i) => {
    const p = softmax(row)[names.indexOf(opts.gold[i])];
    loss += -Math.log(Math.max(p ?? 0, 1e-12));
  });
  const block = computeMetrics({
    gold: opts.gold,
    pred,
    na_label: opts.relations.na_label,
    semeval: opts.semeval,
  });
  return { ...block, loss: opts.logits.length ? loss / opts.logits.length : 0 };
}
