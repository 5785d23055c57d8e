// Evaluation of a token head (task: ner): the worker's tag ids and scores at each labelled position, read back per
// word, then scored in TS as seqeval's default mode does (metrics/ner.ts). What training, `refit eval` and predict
// share; no files are read here.
import { entityMetrics, type NerSplitMetrics } from '../metrics/index.ts';
import type { NerSentence } from '../data/index.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import type { EvalResultEvent } from '../worker/protocol.ts';
import { evalAnswer, inExampleOrder, type EvalRequest } from './evaluate.ts';

/**
 * Tag ids and their softmax probabilities at each labelled position of each example, in example order; on a labelled
 * data set also the gold tag's cross-entropy there (`nll`).
 */
export interface TokenTags {
  tags: number[][];
  scores: number[][];
  nll?: number[][];
}

/** A token head's `eval` answer (tags and scores); one clear error when the worker answered logits instead. */
export function tokenTags(ev: EvalResultEvent): TokenTags {
  if (!Array.isArray(ev.tags) || !Array.isArray(ev.scores) || ev.tags.length !== ev.scores.length)
    throw new Error(`eval ${ev.tag}: the worker did not answer tags and scores for a token head`);
  if (ev.nll !== undefined && (!Array.isArray(ev.nll) || ev.nll.length !== ev.tags.length))
    throw new Error(
      `eval ${ev.tag}: the worker answered ${ev.nll.length} nll rows for ${ev.tags.length} examples`,
    );
  return { tags: ev.tags, scores: ev.scores, ...(ev.nll ? { nll: ev.nll } : {}) };
}

/** Tag ids and scores for examples 0..n-1 of an opened NER dataset, in example order. */
export async function evalTokenTags(worker: SupervisedWorker, opts: EvalRequest): Promise<TokenTags> {
  const { ev, order } = await evalAnswer(worker, opts);
  const t = tokenTags(ev);
  return {
    tags: inExampleOrder(t.tags, order, 'tag'),
    scores: inExampleOrder(t.scores, order, 'score'),
    ...(t.nll ? { nll: inExampleOrder(t.nll, order, 'nll') } : {}),
  };
}

/**
 * The mean cross-entropy over the labelled positions (the training loss's terms, in nats), as the relation head's
 * eval loss is its examples' mean; NaN (written as null) when the worker answered none, 0 with no position.
 */
export function meanTokenLoss(nll: readonly (readonly number[])[] | undefined): number {
  if (!nll) return NaN;
  let sum = 0;
  let n = 0;
  for (const row of nll) for (const v of row) ((sum += v), n++);
  return n ? sum / n : 0;
}

/**
 * The predicted tag of every word of a sentence from the tags at its labelled positions (one per word the window
 * kept, in order: truncation keeps a prefix); words cut off are `O` (nothing predicted there).
 */
export function wordTags(opts: {
  words: number;
  tags: readonly number[];
  labels: readonly string[];
}): string[] {
  if (opts.tags.length > opts.words)
    throw new Error(`eval: ${opts.tags.length} tags for a sentence of ${opts.words} words`);
  const out = new Array<string>(opts.words).fill('O');
  opts.tags.forEach((id, w) => (out[w] = opts.labels[id] ?? 'O'));
  return out;
}

/** A split's scores for a token head: the entity block (metrics.json `entity`) and the figures events carry. */
export interface NerScore extends NerSplitMetrics {
  /** Share of words whose predicted tag is the gold tag. */
  accuracy: number;
  /** Entity macro F1 and micro F1 (the same numbers as `entity`), where relation runs put theirs. */
  macro_f1: number;
  micro_f1: number;
  /** Mean cross-entropy over the labelled positions (meanTokenLoss of the worker's `nll`). */
  loss: number;
}

/** Scores predicted tag ids (per sentence, one per kept word) against the sentences' gold tags. */
export function scoreTokenTags(opts: {
  sentences: readonly NerSentence[];
  tags: readonly (readonly number[])[];
  labels: readonly string[];
  /** The worker's cross-entropy at each labelled position (TokenTags.nll): the loss. */
  nll?: readonly (readonly number[])[];
}): NerScore {
  const pred = opts.sentences.map((s, i) =>
    wordTags({
      words: s.tokens.length,
      tags: opts.tags[i],
      labels: opts.labels,
    }),
  );
  const gold = opts.sentences.map((s) => s.tags);
  let right = 0;
  let words = 0;
  gold.forEach((g, i) => {
    words += g.length;
    g.forEach((t, w) => (right += t === pred[i][w] ? 1 : 0));
  });
  const entity = entityMetrics({ gold, pred });
  return {
    entity,
    accuracy: words ? right / words : 0,
    macro_f1: entity.macro_f1,
    micro_f1: entity.micro_f1,
    loss: meanTokenLoss(opts.nll),
  };
}
