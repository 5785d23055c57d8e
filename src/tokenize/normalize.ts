// The per-word normalisation of HF's BasicTokenizer (NFC, lower(), NFD + drop Mn) with a map from every
// UTF-16 unit of the result back to the span of the input word it came from. No vocabulary here.
import { CHAR_MARK, charFlags } from './unicode.ts';

/** A normalised word: `text`, and for each UTF-16 unit k of it the input span [starts[k], ends[k]). */
export interface NormalizedWord {
  text: string;
  starts: number[];
  ends: number[];
}

interface Piece {
  text: string;
  start: number;
  end: number;
}

/** Splits `s` into code points with their unit spans (offset by `base`). */
function codePoints(s: string, base: number, out: Piece[]): void {
  for (let i = 0; i < s.length;) {
    const c = s.codePointAt(i)!;
    const w = c > 0xffff ? 2 : 1;
    out.push({ text: s.slice(i, i + w), start: base + i, end: base + i + w });
    i += w;
  }
}

/**
 * NFC of the word as pieces: a piece is a run of input that composes on its own (found by checking that
 * NFC(left) + NFC(right) = NFC(word) at each code point boundary), so "e\u0301" → "é" maps to both units.
 */
function nfcPieces(word: string): Piece[] {
  const nfc = word.normalize('NFC');
  const out: Piece[] = [];
  if (nfc === word) {
    codePoints(word, 0, out);
    return out;
  }
  const cuts = [0];
  for (let j = 1; j < word.length; j++) {
    const c = word.charCodeAt(j);
    if (c >= 0xdc00 && c <= 0xdfff) continue; // inside a surrogate pair
    if (word.slice(0, j).normalize('NFC') + word.slice(j).normalize('NFC') === nfc) cuts.push(j);
  }
  cuts.push(word.length);
  let joined = '';
  for (let k = 0; k + 1 < cuts.length; k++) {
    const seg = word.slice(cuts[k], cuts[k + 1]).normalize('NFC');
    joined += seg;
    const before = out.length;
    codePoints(seg, 0, out);
    for (let m = before; m < out.length; m++) {
      out[m].start = cuts[k];
      out[m].end = cuts[k + 1];
    }
  }
  // Cuts that are each safe should also be safe together; if not, map everything to the whole word.
  if (joined !== nfc) {
    out.length = 0;
    codePoints(nfc, 0, out);
    for (const p of out) {
      p.start = 0;
      p.end = word.length;
    }
  }
  return out;
}

/** Python's str.lower() per piece; Σ takes its context-dependent form (σ/ς) from lowering the whole word. */
function lowerPieces(pieces: Piece[]): Piece[] {
  const whole = pieces
    .map((p) => p.text)
    .join('')
    .toLowerCase();
  const out: Piece[] = [];
  let at = 0;
  for (const p of pieces) {
    let low = p.text.toLowerCase();
    if (p.text === '\u03a3') low = whole.slice(at, at + 1);
    at += low.length;
    out.push({ text: low, start: p.start, end: p.end });
  }
  if (at !== whole.length)
    return [{ text: whole, start: pieces[0].start, end: pieces[pieces.length - 1].end }];
  return out;
}

/** _run_strip_accents per piece: NFD, then every Mn code point is dropped. */
function stripPieces(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const d = p.text.normalize('NFD');
    let kept = '';
    for (let i = 0; i < d.length;) {
      const c = d.codePointAt(i)!;
      const w = c > 0xffff ? 2 : 1;
      if (!(charFlags(c) & CHAR_MARK)) kept += d.slice(i, i + w);
      i += w;
    }
    if (kept) out.push({ text: kept, start: p.start, end: p.end });
  }
  return out;
}

/**
 * Normalises one whitespace-separated word as BasicTokenizer does (NFC; then lower() and accent stripping
 * when asked) and maps each unit of the result to the input units it came from.
 */
export function normalizeWord(
  word: string,
  opts: { lowercase: boolean; strip_accents: boolean },
): NormalizedWord {
  let pieces = nfcPieces(word);
  if (opts.lowercase && pieces.length > 0) pieces = lowerPieces(pieces);
  if (opts.strip_accents) pieces = stripPieces(pieces);
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  for (const p of pieces) {
    text += p.text;
    for (let k = 0; k < p.text.length; k++) {
      starts.push(p.start);
      ends.push(p.end);
    }
  }
  return { text, starts, ends };
}
