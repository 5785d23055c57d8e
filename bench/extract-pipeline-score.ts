// How bench/extract-pipeline.ts scores triples against relation rows that annotate one entity pair each (the DeepKE
// RE sample: one row per test sentence, while a sentence may hold other entity pairs nobody annotated). Pure.
//
// A predicted triple is judged only where the rows say something about its pair:
// - correct: head text + code-point offset, tail text + offset and relation equal an annotated row's;
// - wrong relation: the annotated pair exactly, another relation;
// - misbounded: not the annotated pair, but its head overlaps the annotated head and its tail the annotated tail
//   (an entity boundary error on the annotated pair);
// - reversed: the annotated pair read tail → head (each end overlapping);
// - unjudged: any other pair (no row says what its relation is).
// Precision is correct / judged (correct + wrong relation + misbounded + reversed); recall is correct / rows.
import type { EntitySpan, Example } from '../src/data/index.ts';
import { utf16ToCodePoint } from '../src/offsets.ts';

/** One annotated pair: both entities as code-point spans typed by relation.csv, and the row's relation. */
export interface GoldPair {
  head: EntitySpan;
  tail: EntitySpan;
  relation: string;
}

/** relation → its head and tail types (relation.csv). */
export type Types = Record<string, { head_type: string; tail_type: string }>;

/** The annotated pairs of each sentence (rows of the NA relation left out), in first-seen order of sentences. */
export function goldPairs(
  examples: readonly Example[],
  types: Types,
  na_label: string | null,
): Map<string, GoldPair[]> {
  const out = new Map<string, GoldPair[]>();
  for (const ex of examples) {
    const pairs = out.get(ex.text) ?? [];
    out.set(ex.text, pairs);
    if (ex.relation === undefined || ex.relation === na_label) continue;
    const span = (m: Example['head'], type: string): EntitySpan => {
      const start = utf16ToCodePoint(ex.text, m.start);
      return { text: m.text, type, start, end: start + [...m.text].length };
    };
    const t = types[ex.relation];
    pairs.push({
      head: span(ex.head, t?.head_type ?? ''),
      tail: span(ex.tail, t?.tail_type ?? ''),
      relation: ex.relation,
    });
  }
  return out;
}

/** The gold entities of a sentence (each annotated head and tail once, by span and type). */
export function goldEntities(pairs: readonly GoldPair[]): EntitySpan[] {
  const seen = new Map<string, EntitySpan>();
  for (const p of pairs) for (const e of [p.head, p.tail]) seen.set(`${e.start}:${e.end}:${e.type}`, e);
  return [...seen.values()];
}

/** What a triple needs here: both ends (text and code-point offset) and the relation. */
export interface TripleLike {
  head: string;
  head_offset: number;
  tail: string;
  tail_offset: number;
  relation: string;
}

export type Verdict = 'correct' | 'wrong_relation' | 'misbounded' | 'reversed' | 'unjudged';

const overlaps = (text: string, offset: number, e: EntitySpan) => {
  const end = offset + [...text].length;
  return offset < e.end && e.start < end;
};
const same = (text: string, offset: number, e: EntitySpan) => text === e.text && offset === e.start;

/** The verdict on one predicted triple of a sentence whose annotated pairs are `gold` (see the file's header). */
export function judge(t: TripleLike, gold: readonly GoldPair[]): Verdict {
  const exact = gold.filter(
    (g) => same(t.head, t.head_offset, g.head) && same(t.tail, t.tail_offset, g.tail),
  );
  if (exact.some((g) => g.relation === t.relation)) return 'correct';
  if (exact.length) return 'wrong_relation';
  if (gold.some((g) => overlaps(t.head, t.head_offset, g.head) && overlaps(t.tail, t.tail_offset, g.tail)))
    return 'misbounded';
  if (gold.some((g) => overlaps(t.head, t.head_offset, g.tail) && overlaps(t.tail, t.tail_offset, g.head)))
    return 'reversed';
  return 'unjudged';
}

/** Triple counts and scores of one pipeline over the annotated sentences. */
export interface TripleScore {
  predicted: number;
  gold: number;
  verdicts: Record<Verdict, number>;
  /** correct / judged */
  precision: number;
  /** correct / all predicted (every unjudged triple counted as wrong): a lower bound */
  precision_all: number;
  recall: number;
  f1: number;
}

const ratio = (a: number, b: number) => (b ? a / b : 0);

/** Scores the triples of each sentence (`triples[i]` belongs to `texts[i]`) against its annotated pairs. */
export function scoreTriples(
  texts: readonly string[],
  triples: ReadonlyArray<readonly TripleLike[]>,
  gold: ReadonlyMap<string, readonly GoldPair[]>,
): TripleScore {
  const verdicts: Record<Verdict, number> = {
    correct: 0,
    wrong_relation: 0,
    misbounded: 0,
    reversed: 0,
    unjudged: 0,
  };
  let predicted = 0;
  texts.forEach((text, i) => {
    for (const t of triples[i]) {
      predicted++;
      verdicts[judge(t, gold.get(text) ?? [])]++;
    }
  });
  const goldCount = texts.reduce((n, text) => n + (gold.get(text)?.length ?? 0), 0);
  const judged = predicted - verdicts.unjudged;
  const precision = ratio(verdicts.correct, judged);
  const recall = ratio(verdicts.correct, goldCount);
  return {
    predicted,
    gold: goldCount,
    verdicts,
    precision,
    precision_all: ratio(verdicts.correct, predicted),
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
  };
}

/** How many of the entities the annotated pairs need the NER found, and how many pairs it found both ends of. */
export interface NeedRecall {
  entities: number;
  span: number;
  span_and_type: number;
  pairs: number;
  pairs_both_typed: number;
}

/** NER recall of the gold pairs' entities: exact code-point span, and span with the relation.csv type. */
export function neededEntityRecall(
  texts: readonly string[],
  found: ReadonlyArray<readonly EntitySpan[]>,
  gold: ReadonlyMap<string, readonly GoldPair[]>,
): NeedRecall {
  const r: NeedRecall = { entities: 0, span: 0, span_and_type: 0, pairs: 0, pairs_both_typed: 0 };
  texts.forEach((text, i) => {
    const pairs = gold.get(text) ?? [];
    const has = (e: EntitySpan, typed: boolean) =>
      found[i].some((f) => f.start === e.start && f.end === e.end && (!typed || f.type === e.type));
    for (const e of goldEntities(pairs)) {
      r.entities++;
      if (has(e, false)) r.span++;
      if (has(e, true)) r.span_and_type++;
    }
    for (const p of pairs) {
      r.pairs++;
      if (has(p.head, true) && has(p.tail, true)) r.pairs_both_typed++;
    }
  });
  return r;
}
