// Entity-aware truncation of a marked token sequence to a budget: never drops a marker, keeps both entities
// and as much context as fits. Pure arithmetic on indices; no tokenization here.
import { ConfigError } from '../errors.ts';

/** The four marker positions in the body (the sequence without [CLS]/[SEP]). */
export interface MarkerPositions {
  head_start: number;
  head_end: number;
  tail_start: number;
  tail_end: number;
}

/** Smallest body budget that can hold four markers and the separators between up to four kept runs. */
export const MIN_BODY_BUDGET = 7;

/**
 * The body indices to keep, in order, with -1 standing for one separator where a run of tokens was dropped
 * between kept ones. `length <= budget` always; every marker index is kept.
 *
 * 1. Both entities (from the first start marker to the last end marker) fit: one window around them, the spare
 *    budget split evenly left and right (what one side cannot use goes to the other).
 * 2. They do not: keep tokens by priority — inside an entity before context, then nearest to a marker — so each
 *    entity keeps its neighbourhood; a separator joins the runs (far-apart entities, or an entity longer than the
 *    budget, which keeps its first and last tokens and both markers).
 */
export function truncationPlan(opts: { length: number; budget: number; markers: MarkerPositions }): number[] {
  const { length, budget, markers: m } = opts;
  if (budget < MIN_BODY_BUDGET)
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `max_seq_len leaves ${budget} tokens between [CLS] and [SEP]; entity markers need at least ` +
        `${MIN_BODY_BUDGET} (use max_seq_len >= ${MIN_BODY_BUDGET + 2})`,
    );
  if (length <= budget) return range(0, length);
  const lo = Math.min(m.head_start, m.tail_start);
  const hi = Math.max(m.head_end, m.tail_end);
  if (hi - lo + 1 <= budget) return range(...windowAround(lo, hi, length, budget));
  return byPriority(length, budget, m);
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i++) out.push(i);
  return out;
}

/** [start, end) of a `budget`-long window containing [lo, hi], centred as far as the sequence allows. */
function windowAround(lo: number, hi: number, length: number, budget: number): [number, number] {
  const extra = budget - (hi - lo + 1);
  let left = Math.min(lo, Math.floor(extra / 2));
  const right = Math.min(length - 1 - hi, extra - left);
  left = Math.min(lo, extra - right);
  return [lo - left, hi + right + 1];
}

function byPriority(length: number, budget: number, m: MarkerPositions): number[] {
  const marks = [m.head_start, m.head_end, m.tail_start, m.tail_end];
  const isMark = new Set(marks);
  const inside = (i: number): boolean =>
    (i > m.head_start && i < m.head_end) || (i > m.tail_start && i < m.tail_end);
  const cands: Array<{ i: number; cls: number; dist: number }> = [];
  for (let i = 0; i < length; i++) {
    if (isMark.has(i)) continue;
    let dist = Infinity;
    for (const k of marks) dist = Math.min(dist, Math.abs(i - k));
    cands.push({ i, cls: inside(i) ? 0 : 1, dist });
  }
  cands.sort((a, b) => a.cls - b.cls || a.dist - b.dist || a.i - b.i);
  // Each internal gap costs one separator, and the gaps depend on what is kept: grow the separator
  // allowance until the kept runs need no more than it (at most 3 gaps: runs cluster around 4 markers).
  for (let seps = 1; seps <= budget - marks.length; seps++) {
    const keep = [...isMark, ...cands.slice(0, budget - marks.length - seps).map((c) => c.i)].sort(
      (a, b) => a - b,
    );
    const plan: number[] = [];
    for (let k = 0; k < keep.length; k++) {
      if (k > 0 && keep[k] !== keep[k - 1] + 1) plan.push(-1);
      plan.push(keep[k]);
    }
    if (plan.length <= budget) return plan;
  }
  throw new ConfigError(
    'E_CONFIG_VALUE',
    `max_seq_len is too small to keep both entities and their markers (budget ${budget})`,
  );
}
