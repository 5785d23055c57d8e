// Character offsets: every offset a user gives or reads (data files, `--head-offset`, `predict --input`, the HTTP
// API) counts Unicode code points, what Python's `str.index` returns; JS strings index UTF-16 units, which differ
// after an emoji or an astral CJK character (U+20000 and up). This is the one place that converts between them.

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The UTF-16 index of code-point offset `offset` in `text` (identity for BMP-only text); an offset past the end
 * stays past the end by as much (callers check that the entity is really there).
 */
export function codePointToUtf16(text: string, offset: number): number {
  if (!SURROGATE.test(text)) return offset;
  let units = 0;
  let cp = 0;
  for (; cp < offset && units < text.length; cp++) units += pairAt(text, units) ? 2 : 1;
  return units + (offset - cp);
}

/** True when a surrogate pair (one astral code point, two UTF-16 units) starts at `i`. */
function pairAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) return false;
  const d = text.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}

/**
 * The code-point offset of UTF-16 index `index` in `text` (what a Python user would count); inverse of
 * codePointToUtf16.
 */
export function utf16ToCodePoint(text: string, index: number): number {
  if (!SURROGATE.test(text)) return index;
  let cp = 0;
  for (let units = 0; units < index && units < text.length; cp++) {
    units += pairAt(text, units) ? 2 : 1;
  }
  return cp;
}

/** The length of `text` in code points (what a Python offset is measured in). */
export function codePointLength(text: string): number {
  return utf16ToCodePoint(text, text.length);
}
