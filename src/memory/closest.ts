// Closest-name suggestion for "unknown X, did you mean Y?" messages. Pure string math.

/** Levenshtein distance between two strings (case-sensitive; callers normalise). */
export function editDistance(a: string, b: string): number {
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
