// One split of a run scored with the worker's model as it is now: relation logits → relation metrics, or (task:
// ner, a split with sentences) the token head's tags → seqeval-mode entity metrics. What the loop's per-epoch
// evaluation and the run's end share.
import type { MetricBlock } from '../metrics/index.ts';
import type { RelationSet } from '../data/types.ts';
import type { SupervisedWorker } from '../worker/index.ts';
import { evalLogits, evalTokenTags, scoreLogits, scoreTokenTags, type NerScore } from '../session/index.ts';
import type { EncodedSplit } from './prepare.ts';

/** A split's scores: a relation block, or an NER one (its `entity` block); both carry accuracy, F1s and loss. */
export type SplitScore = (MetricBlock & { loss: number }) | NerScore;

/** The score a run keeps its best checkpoint by: macro-F1 for relations, entity micro-F1 for NER (DeepKE's). */
export function selectionScore(m: SplitScore): number {
  return 'entity' in m ? m.micro_f1 : m.macro_f1;
}

/** Evaluates one opened split (`split.name`) and scores it; `relations` holds the label names (NER: the tags). */
export async function scoreSplit(opts: {
  worker: SupervisedWorker;
  split: EncodedSplit;
  relations: RelationSet;
  semeval: boolean;
  padding: 'dynamic' | 'max';
  max_seq_len: number;
  tag: string;
}): Promise<SplitScore> {
  const { split } = opts;
  const request = {
    dataset: split.name,
    lengths: split.lengths,
    padding: opts.padding,
    max_seq_len: opts.max_seq_len,
    tag: opts.tag,
  };
  if (split.sentences) {
    const { tags, nll } = await evalTokenTags(opts.worker, request);
    return scoreTokenTags({ sentences: split.sentences, tags, nll, labels: opts.relations.names });
  }
  const logits = await evalLogits(opts.worker, request);
  return scoreLogits({
    logits,
    gold: split.examples.map((e) => e.relation ?? ''),
    relations: opts.relations,
    semeval: opts.semeval,
  });
}
