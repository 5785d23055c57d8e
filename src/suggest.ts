// "Did you mean …?" for unknown names (config keys, columns, formats, relations, models, GPUs): the edit distance and
// the one closest-name search. Callers choose how near counts (options), never their own loop. Pure string math.

/** Edit distance (insert, delete, substitute each cost 1) between two strings. */
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

/** Most edits a `typo` suggestion may be away (and at most half the name's length). */
const MAX_TYPO_DISTANCE = 3;

/** How `closestName` measures nearness; every option is off by default. */
export interface ClosestOptions {
  /** Applied to the name and every candidate before comparing (default: lower case). */
  normalise?: (s: string) => string;
  /**
   * A candidate containing the name, or contained in it, counts as near (half its length difference): GPU and
   * model names.
   */
  contains?: boolean;
  /** A dotted candidate is also compared by its last part, plus 0.5 (so `epochs` finds `train.epochs`): config keys. */
  leaf?: boolean;
  /**
   * Only a likely typo is returned (at most 3 edits and half the name's length), else undefined: columns,
   * formats, relations.
   */
  typo?: boolean;
}

/**
 * The candidate nearest to `name` (ties: the earlier candidate); undefined when there are none (or, with
 * `typo`, none near).
 */
export function closestName(
  name: string,
  candidates: readonly string[],
  opts: ClosestOptions = {},
): string | undefined {
  const normalise = opts.normalise ?? ((s: string) => s.toLowerCase());
  const n = normalise(name);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const cn = normalise(c);
    let d =
      opts.contains && (cn.includes(n) || n.includes(cn))
        ? Math.abs(cn.length - n.length) * 0.5
        : editDistance(n, cn);
    if (opts.leaf && cn.includes('.'))
      d = Math.min(d, editDistance(n, cn.slice(cn.lastIndexOf('.') + 1)) + 0.5);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (opts.typo && !(bestD <= Math.min(MAX_TYPO_DISTANCE, Math.max(1, Math.floor(name.length / 2)))))
    return undefined;
  return best;
}

/** `" (did you mean 'x'?)"` when a candidate is a likely typo of `name` (closestName with `typo`), else `''`. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const c = closestName(name, candidates, { typo: true });
  return c === undefined ? '' : ` (did you mean '${c}'?)`;
}
