// Closest-name suggestion for "unknown X, did you mean Y?" messages. Pure string math.
import { editDistance } from '../suggest.ts';

/** The candidate nearest to `name` by edit distance after `normalise` (ties: the first listed). */
export function closestName(name: string, candidates: readonly string[], normalise = (s: string) => s.toLowerCase()): string {
  const n = normalise(name);
  let best = candidates[0];
  let bestD = Infinity;
  for (const c of candidates) {
    const cn = normalise(c);
    // a candidate that contains the query (or the reverse) is a strong hint: weigh it as near
    const d = cn.includes(n) || n.includes(cn) ? Math.abs(cn.length - n.length) * 0.5 : editDistance(n, cn);
    if (d < bestD) { bestD = d; best = c; }
  }
  return best;
}
