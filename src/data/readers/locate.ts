// Finds an entity's character span in a sentence: at the given offset when it matches there, otherwise at
// the occurrence nearest to it (a counted fallback). Offsets in files are code points; spans are UTF-16.

/** Where a mention was found; `fallback` is true when the given offset did not point at it. */
export interface Located {
  start: number;
  end: number;
  fallback: boolean;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Converts a code-point offset (Python's str index) into a UTF-16 index of `text`; identity for BMP-only text. */
export function codePointToUtf16(text: string, offset: number): number {
  if (!SURROGATE.test(text)) return offset;
  let units = 0;
  for (let cp = 0; cp < offset && units < text.length; cp++) {
    const c = text.charCodeAt(units);
    units += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return units;
}

/** The length of `text` in code points (what a Python offset is measured in). */
export function codePointLength(text: string): number {
  if (!SURROGATE.test(text)) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Locates `entity` in `text` near UTF-16 index `at` (undefined: no offset given, take the first occurrence
 * without counting a fallback). Returns null when the entity does not occur at all.
 */
export function locateMention(opts: { text: string; entity: string; at?: number }): Located | null {
  const { text, entity, at } = opts;
  if (at !== undefined && text.startsWith(entity, at)) return { start: at, end: at + entity.length, fallback: false };
  let best = -1;
  const target = at ?? 0;
  for (let i = text.indexOf(entity); i >= 0; i = text.indexOf(entity, i + 1)) {
    if (best < 0 || Math.abs(i - target) < Math.abs(best - target)) best = i;
    if (i > target) break; // occurrences only move further away from here on
  }
  if (best < 0) return null;
  return { start: best, end: best + entity.length, fallback: at !== undefined };
}
