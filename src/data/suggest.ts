// "Did you mean …?" for misnamed columns, formats and relations: Levenshtein distance, nothing else.
import { editDistance } from '../suggest.ts';

/** Most edits a suggestion may be away (and at most half the name's length). */
const MAX_SUGGEST_DISTANCE = 3;

/** The candidate closest to `name` (case-insensitive), or undefined when none is close enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return bestD <= Math.min(MAX_SUGGEST_DISTANCE, Math.max(1, Math.floor(name.length / 2))) ? best : undefined;
}

/** `" (did you mean 'x'?)"` when a close candidate exists, else `''`. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const c = closest(name, candidates);
  return c === undefined ? '' : ` (did you mean '${c}'?)`;
}
