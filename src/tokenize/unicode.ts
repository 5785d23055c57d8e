// Character classes of Hugging Face's BasicTokenizer (_is_control, _is_whitespace, _is_punctuation,
// _is_chinese_char) plus the split set of Python's str.split(). Pure lookups, cached per code point.

/** Bit flags of a code point's class; a code point may carry several. */
export const CHAR_CONTROL = 1; // dropped by _clean_text: NUL, U+FFFD, category C* except \t \n \r
export const CHAR_SPACE = 2; // word separator: \t \n \r, Zs, and Zl/Zp (Python's split())
export const CHAR_PUNCT = 4; // split off by _run_split_on_punc
export const CHAR_CHINESE = 8; // spaced by _tokenize_chinese_chars
export const CHAR_MARK = 16; // category Mn: removed by accent stripping

const COMPUTED = 128;
const TABLE = new Uint8Array(0x110000);

const RE_CONTROL = /^\p{C}$/u;
const RE_ZS = /^\p{Zs}$/u;
const RE_ZLZP = /^[\p{Zl}\p{Zp}]$/u;
const RE_PUNCT = /^\p{P}$/u;
const RE_MN = /^\p{Mn}$/u;

/** True for the CJK blocks HF's _is_chinese_char lists (Japanese kana and Hangul are not among them). */
export function isChineseCodePoint(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isAsciiPunct(cp: number): boolean {
  return (
    (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)
  );
}

function compute(cp: number): number {
  const ch = String.fromCodePoint(cp);
  let flags = COMPUTED;
  if (cp === 9 || cp === 10 || cp === 13 || cp === 32 || RE_ZS.test(ch) || RE_ZLZP.test(ch))
    flags |= CHAR_SPACE;
  else if (cp === 0 || cp === 0xfffd || RE_CONTROL.test(ch)) flags |= CHAR_CONTROL;
  // a lone surrogate is category Cs in Python too: dropped as a control character
  if (cp >= 0xd800 && cp <= 0xdfff) flags = (flags & ~CHAR_SPACE) | CHAR_CONTROL;
  if (isAsciiPunct(cp) || RE_PUNCT.test(ch)) flags |= CHAR_PUNCT;
  if (isChineseCodePoint(cp)) flags |= CHAR_CHINESE;
  if (RE_MN.test(ch)) flags |= CHAR_MARK;
  return flags;
}

/** The class flags of one code point (computed once, then read from a table). */
export function charFlags(cp: number): number {
  const f = TABLE[cp];
  if (f !== 0) return f;
  const computed = compute(cp);
  TABLE[cp] = computed;
  return computed;
}
