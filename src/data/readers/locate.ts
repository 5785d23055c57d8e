// Finds an entity's character span in a sentence: at the given offset when it matches there, otherwise at
// the occurrence nearest to it (a counted fallback). Offsets in files are code points; spans are UTF-16.

/** Where a mention was found; `fallback` is true when the given offset did not point at it. */
export interface Located {
  start: number;
  end: number;
  fallback: boolean;
}

export { codePointLength, codePointToUtf16, utf16ToCodePoint } from '../../offsets.ts';

/**
 * Locates `entity` in `text` near UTF-16 index `at` (undefined: no offset given, take the first occurrence
 * without counting a fallback). Returns null when the entity does not occur at all.
 */
export function locateMention(opts: { text: string; entity: string; at?: number }): Located | null {
  const { text, entity, at } = opts;
  if (at !== undefined && text.startsWith(entity, at))
    return { start: at, end: at + entity.length, fallback: false };
  let best = -1;
  const target = at ?? 0;
  for (let i = text.indexOf(entity); i >= 0; i = text.indexOf(entity, i + 1)) {
    if (best < 0 || Math.abs(i - target) < Math.abs(best - target)) best = i;
    if (i > target) break; // occurrences only move further away from here on
  }
  if (best < 0) return null;
  return { start: best, end: best + entity.length, fallback: at !== undefined };
}
