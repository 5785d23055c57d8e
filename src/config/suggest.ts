// "Did you mean …?" for unknown config keys: Levenshtein distance to every valid key and alias,
// comparing with both the full dotted key and its last part (so `epochs` finds `train.epochs`).

/** Edit distance (insert, delete, substitute each cost 1) between two strings. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate closest to `key` (ties: the earlier candidate); undefined when there are none. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  for (const cand of candidates) {
    const leaf = cand.slice(cand.lastIndexOf('.') + 1);
    const score = Math.min(levenshtein(lower, cand), cand.includes('.') ? levenshtein(lower, leaf) + 0.5 : Infinity);
    if (score < bestScore) { best = cand; bestScore = score; }
  }
  return best;
}
