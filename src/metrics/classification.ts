// Single-label classification metrics over relation names: accuracy, scikit-learn's macro F1,
// TACRED micro F1 without the NA label, per-relation P/R/F1 and the confusion matrix. Pure: no I/O.
import { own, setOwn } from '../own.ts';

/** Precision, recall, F1 (fractions in [0, 1]) and support (gold count) of one relation. */
export interface RelationScore {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Per-label counts: true positives, predicted count and gold count. */
interface Counts {
  tp: number;
  pred: number;
  gold: number;
}

/** Zero-division rule of scikit-learn's `zero_division=0`: an undefined ratio is 0. */
function ratio(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

/** F1 from precision and recall the way scikit-learn 1.2 computes it (0 when both are 0). */
function f1Of(precision: number, recall: number): number {
  const den = precision + recall;
  return den === 0 ? 0 : (2 * precision * recall) / den;
}

/** Sorted union of the labels present in gold ∪ pred (code-unit order, like numpy's sort of str). */
export function presentLabels(gold: readonly string[], pred: readonly string[]): string[] {
  return [...new Set([...gold, ...pred])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Counts per label over aligned gold/pred arrays. */
function countLabels(gold: readonly string[], pred: readonly string[]): Map<string, Counts> {
  const counts = new Map<string, Counts>();
  const get = (label: string): Counts => {
    let c = counts.get(label);
    if (!c) {
      c = { tp: 0, pred: 0, gold: 0 };
      counts.set(label, c);
    }
    return c;
  };
  for (let i = 0; i < gold.length; i++) {
    get(gold[i]).gold++;
    get(pred[i]).pred++;
    if (gold[i] === pred[i]) get(gold[i]).tp++;
  }
  return counts;
}

/** Fraction of positions where pred equals gold (0 for empty input). */
export function accuracy(gold: readonly string[], pred: readonly string[]): number {
  let correct = 0;
  for (let i = 0; i < gold.length; i++) if (gold[i] === pred[i]) correct++;
  return ratio(correct, gold.length);
}

/** P/R/F1/support for each of `labels` (a label absent from both arrays scores 0 with support 0). */
export function perRelation(
  gold: readonly string[],
  pred: readonly string[],
  labels: readonly string[],
): Record<string, RelationScore> {
  const counts = countLabels(gold, pred);
  const out: Record<string, RelationScore> = {};
  for (const label of labels) {
    const c = counts.get(label) ?? { tp: 0, pred: 0, gold: 0 };
    const precision = ratio(c.tp, c.pred);
    const recall = ratio(c.tp, c.gold);
    setOwn(out, label, { precision, recall, f1: f1Of(precision, recall), support: c.gold });
  }
  return out;
}

/**
 * scikit-learn's `f1_score(gold, pred, average='macro')` (zero_division=0): the unweighted mean of
 * per-label F1 over the sorted labels present in gold ∪ pred, the NA label included (DeepKE's number).
 */
export function macroF1(gold: readonly string[], pred: readonly string[]): number {
  const labels = presentLabels(gold, pred);
  if (labels.length === 0) return 0;
  const scores = perRelation(gold, pred, labels);
  let sum = 0;
  for (const label of labels) sum += own(scores, label)!.f1;
  return sum / labels.length;
}

/**
 * Micro F1 without the NA label (TACRED convention): P = correct non-NA predictions / non-NA
 * predictions, R = correct non-NA predictions / non-NA gold. With `na_label` null it equals accuracy.
 */
export function microF1(gold: readonly string[], pred: readonly string[], na_label: string | null): number {
  let correct = 0;
  let predicted = 0;
  let actual = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i];
    const p = pred[i];
    if (p !== na_label) predicted++;
    if (g !== na_label) actual++;
    if (g === p && g !== na_label) correct++;
  }
  return f1Of(ratio(correct, predicted), ratio(correct, actual));
}

/** Confusion matrix over `labels`: `matrix[gold_index][pred_index]` counts. */
export function confusionMatrix(
  gold: readonly string[],
  pred: readonly string[],
  labels: readonly string[],
): { labels: string[]; matrix: number[][] } {
  const index = new Map(labels.map((l, i) => [l, i] as const));
  const matrix = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < gold.length; i++) {
    const g = index.get(gold[i]);
    const p = index.get(pred[i]);
    if (g !== undefined && p !== undefined) matrix[g][p]++;
  }
  return { labels: [...labels], matrix };
}
