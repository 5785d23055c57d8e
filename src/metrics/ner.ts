// Entity-level precision, recall and F1 exactly as seqeval's default mode computes them (seqeval 1.2.2, what
// DeepKE's standard NER prints with classification_report): gold and predicted tag sequences are joined with
// 'O' between sentences, their entities taken with get_entities (data/ner: seqevalChunks), and an entity counts
// as correct only with the same type, start and end. Per type over the types in gold ∪ pred (sorted); micro,
// macro (unweighted mean of the per-type scores) and weighted (by gold support) averages; an undefined ratio is 0
// (zero_division='warn' returns 0). Pure: no I/O.
import { seqevalChunks, type TokenSpan } from '../data/index.ts';

/** Precision, recall, F1 (fractions in [0, 1]) and support (gold entities) of one entity type. */
export interface EntityScore {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** The `entity` block of a split in metrics.json (`test.entity.micro_f1` …); fractions in [0, 1]. */
export interface EntityMetricBlock {
  micro_precision: number;
  micro_recall: number;
  micro_f1: number;
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  weighted_precision: number;
  weighted_recall: number;
  weighted_f1: number;
  /** Gold entities. */
  support: number;
  /** Predicted entities. */
  predicted: number;
  /** Predicted entities equal to a gold one (type, start and end). */
  correct: number;
  /** Per type, in seqeval's order (sorted names of the types in gold ∪ pred). */
  per_type: Record<string, EntityScore>;
}

/** An NER split's metrics in metrics.json: `{"test": {"entity": {"micro_f1": …}}}`. */
export interface NerSplitMetrics {
  entity: EntityMetricBlock;
}

interface TypeCounts {
  tp: number;
  pred: number;
  gold: number;
}

/** Entity metrics of aligned gold and predicted tag sequences, one array of tags per sentence. */
export function entityMetrics(opts: {
  gold: readonly string[][];
  pred: readonly string[][];
}): EntityMetricBlock {
  const { gold, pred } = opts;
  if (gold.length !== pred.length || gold.some((g, i) => g.length !== pred[i].length))
    throw new Error('entityMetrics: gold and predicted tag sequences differ in number or length');
  const key = (c: [string, number, number]) => `${c[0]}\u0000${c[1]}\u0000${c[2]}`;
  return blockOf(countByType(flatChunks(gold).map(key), flatChunks(pred).map(key)));
}

/**
 * Entity metrics of gold and predicted spans, one array per sentence (any one unit: token or code-point
 * offsets). Equal to entityMetrics on the tags the spans came from whenever the spans are seqeval's entities.
 */
export function spanMetrics(opts: {
  gold: readonly (readonly TokenSpan[])[];
  pred: readonly (readonly TokenSpan[])[];
}): EntityMetricBlock {
  if (opts.gold.length !== opts.pred.length)
    throw new Error(`spanMetrics: ${opts.gold.length} gold sentences but ${opts.pred.length} predicted`);
  const keys = (all: readonly (readonly TokenSpan[])[]) =>
    all.flatMap((spans, i) => spans.map((s) => `${s.type}\u0000${i}:${s.start}\u0000${s.end}`));
  return blockOf(countByType(keys(opts.gold), keys(opts.pred)));
}

/** seqeval's flattening of a list of sentences (`item for sublist in seq for item in sublist + ['O']`). */
function flatChunks(sentences: readonly string[][]): Array<[string, number, number]> {
  const flat: string[] = [];
  for (const s of sentences) flat.push(...s, 'O');
  return seqevalChunks(flat);
}

/** Counts per type from entity keys `type\0start\0end` (duplicates count once, as seqeval's sets do). */
function countByType(goldKeys: string[], predKeys: string[]): Map<string, TypeCounts> {
  const gold = new Set(goldKeys);
  const pred = new Set(predKeys);
  const counts = new Map<string, TypeCounts>();
  const get = (k: string) => {
    const type = k.slice(0, k.indexOf('\u0000'));
    let c = counts.get(type);
    if (!c) counts.set(type, (c = { tp: 0, pred: 0, gold: 0 }));
    return c;
  };
  for (const k of gold) get(k).gold++;
  for (const k of pred) {
    const c = get(k);
    c.pred++;
    if (gold.has(k)) c.tp++;
  }
  return counts;
}

const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);
/** seqeval's F-score for beta 1: `(1 + beta²)·p·r / (beta²·p + r)`, the denominator 0 read as 1. */
const f1Of = (p: number, r: number) => (2 * p * r) / (p + r === 0 ? 1 : p + r);

function blockOf(counts: Map<string, TypeCounts>): EntityMetricBlock {
  const types = [...counts.keys()].sort(codePointOrder);
  const per_type: Record<string, EntityScore> = {};
  let tp = 0;
  let predicted = 0;
  let support = 0;
  const avg = { macro: [0, 0, 0], weighted: [0, 0, 0] };
  for (const t of types) {
    const c = counts.get(t)!;
    const precision = ratio(c.tp, c.pred);
    const recall = ratio(c.tp, c.gold);
    const f1 = f1Of(precision, recall);
    per_type[t] = { precision, recall, f1, support: c.gold };
    tp += c.tp;
    predicted += c.pred;
    support += c.gold;
    [precision, recall, f1].forEach((v, k) => {
      avg.macro[k] += v;
      avg.weighted[k] += v * c.gold;
    });
  }
  const micro_precision = ratio(tp, predicted);
  const micro_recall = ratio(tp, support);
  // np.average over no types is nan in seqeval (its report fails first); 0 here
  const macro = avg.macro.map((v) => ratio(v, types.length));
  // seqeval's weighted average with no gold entities is 0 (zero_division='warn')
  const weighted = avg.weighted.map((v) => ratio(v, support));
  return {
    micro_precision,
    micro_recall,
    micro_f1: f1Of(micro_precision, micro_recall),
    macro_precision: macro[0],
    macro_recall: macro[1],
    macro_f1: macro[2],
    weighted_precision: weighted[0],
    weighted_recall: weighted[1],
    weighted_f1: weighted[2],
    support,
    predicted,
    correct: tp,
    per_type,
  };
}

/** Python's sort order of str (code points), which differs from UTF-16 order past U+FFFF. */
function codePointOrder(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
