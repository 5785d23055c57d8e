// Evaluation: logits from the worker over an opened dataset, mapped back to example order, then metrics in TS.
import { planEvalBatches } from '../batch/index.ts';
import { computeMetrics, type MetricBlock } from '../metrics/index.ts';
import type { RelationSet } from '../data/types.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import { expect } from './worker-session.ts';

/** Examples per evaluation batch (no gradients, so larger than training micro-batches are fine). */
export const EVAL_BATCH_SIZE = 64;

/** Logits for examples 0..n-1 of an opened dataset, in example order. */
export async function evalLogits(
  worker: SupervisedWorker,
  opts: {
    dataset: string;
    lengths: ArrayLike<number>;
    padding: 'dynamic' | 'max';
    max_seq_len: number;
    batch_size?: number;
    tag: string;
  },
): Promise<number[][]> {
  const size = opts.batch_size ?? EVAL_BATCH_SIZE;
  const batches = planEvalBatches({
    lengths: opts.lengths,
    batch_size: size,
    padding: opts.padding,
    max_seq_len: opts.max_seq_len,
  });
  let ev;
  try {
    ev = await expect(worker, { type: 'eval', dataset: opts.dataset, batches, tag: opts.tag }, 'eval_result');
  } catch (e) {
    // Evaluation holds no gradients, so an OOM here only means the batches are too big: halve and retry.
    if (size > 1 && e instanceof Error && /out of memory/i.test(e.message))
      return evalLogits(worker, { ...opts, batch_size: Math.floor(size / 2) });
    throw e;
  }
  const out: number[][] = new Array(opts.lengths.length);
  let k = 0;
  const logits = ev.logits ?? []; // a relation head answers logits (the token head tags and scores)
  for (const b of batches) for (const i of b.indices) out[i] = logits[k++];
  if (k !== logits.length) throw new Error(`worker returned ${logits.length} logit rows for ${k} examples`);
  return out;
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
