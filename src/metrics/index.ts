// Metrics computed in TS from gold and predicted relation names: the block written to metrics.json
// (`valid`, `test`) and printed by `refit eval`; entity-level NER metrics (ner.ts, `<split>.entity`). Pure; no I/O.
import {
  accuracy,
  confusionMatrix,
  macroF1,
  microF1,
  perRelation,
  presentLabels,
  type RelationScore,
} from './classification.ts';
import { semevalOfficialF1 } from './semeval.ts';

export {
  entityMetrics,
  spanMetrics,
  type EntityMetricBlock,
  type EntityScore,
  type NerSplitMetrics,
} from './ner.ts';
export { entityReport, pyFixed } from './ner-report.ts';

export { accuracy, confusionMatrix, macroF1, microF1, perRelation, presentLabels, semevalOfficialF1 };
export type { RelationScore };

/** Every metric of one split; all scores are fractions in [0, 1]. */
export interface MetricBlock {
  accuracy: number;
  /** scikit-learn `f1_score(average='macro')` over the labels present in gold ∪ pred (DeepKE's number). */
  macro_f1: number;
  /** Micro F1 excluding the NA label (TACRED convention); equals accuracy when there is no NA label. */
  micro_f1: number;
  per_relation: Record<string, RelationScore>;
  /** `matrix[gold][pred]` over `labels`. */
  confusion: { labels: string[]; matrix: number[][] };
  /** SemEval-2010 Task 8 official score (fraction; the Perl scorer prints ×100), only when asked for. */
  semeval_official_f1?: number;
}

/**
 * Computes the metric block of aligned gold/pred relation names. `labels` (optional) fixes the order of
 * `per_relation` and `confusion` (e.g. the relation set's order) and adds relations absent from both
 * arrays with support 0; labels seen in the data but missing from it are appended in sorted order.
 * `macro_f1` always uses only the labels present in gold ∪ pred, as scikit-learn does.
 */
export function computeMetrics(opts: {
  gold: string[];
  pred: string[];
  na_label: string | null;
  semeval?: boolean;
  labels?: string[];
}): MetricBlock {
  const { gold, pred, na_label } = opts;
  if (gold.length !== pred.length) {
    throw new Error(`computeMetrics: ${gold.length} gold labels but ${pred.length} predictions`);
  }
  const present = presentLabels(gold, pred);
  const order = opts.labels ? [...opts.labels, ...present.filter((l) => !opts.labels!.includes(l))] : present;
  const block: MetricBlock = {
    accuracy: accuracy(gold, pred),
    macro_f1: macroF1(gold, pred),
    micro_f1: microF1(gold, pred, na_label),
    per_relation: perRelation(gold, pred, order),
    confusion: confusionMatrix(gold, pred, order),
  };
  if (opts.semeval) block.semeval_official_f1 = semevalOfficialF1(gold, pred, na_label ?? 'Other');
  return block;
}
