// "Did you mean …?" for misnamed columns, formats and relations: Levenshtein distance, nothing else.

/** The edit distance between `a` and `b` (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The candidate closest to `name` (case-insensitive), or undefined when none is within `max_distance` edits. */
export function closest(name: string, candidates: readonly string[], max_distance = 3): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = name.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return bestD <= Math.min(max_distance, Math.max(1, Math.floor(name.length / 2))) ? best : undefined;
}

/** `" (did you mean 'x'?)"` when a close candidate exists, else `''`. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const c = closest(name, candidates);
  return c === undefined ? '' : ` (did you mean '${c}'?)`;
}
