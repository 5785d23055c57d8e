// "Did you mean …?" for unknown config keys: Levenshtein distance to every valid key and alias,
// comparing with both the full dotted key and its last part (so `epochs` finds `train.epochs`).
import { editDistance } from '../suggest.ts';

/** The candidate closest to `key` (ties: the earlier candidate); undefined when there are none. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const cand of candidates) {
    const leaf = cand.slice(cand.lastIndexOf('.') + 1);
    const score = Math.min(editDistance(lower, cand), cand.includes('.') ? editDistance(lower, leaf) + 0.5 : Infinity);
    if (score < bestScore) { best = cand; bestScore = score; }
  }
  return best;
}
