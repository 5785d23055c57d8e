// BERT's tokenizer (HF BertTokenizer, the Python one): special tokens cut out, BasicTokenizer, then greedy
// longest-match-first WordPiece; every token keeps its span in the original text. Pure: no I/O.
import { CHAR_CHINESE, CHAR_CONTROL, CHAR_PUNCT, CHAR_SPACE, charFlags } from './unicode.ts';
import { normalizeWord } from './normalize.ts';
import { SPECIAL_TOKENS, type Vocab } from './vocab.ts';

/** One WordPiece token: its id and the span [start, end) of the original text it came from (UTF-16 units). */
export interface Token {
  id: number;
  start: number;
  end: number;
}

/** Parallel arrays of tokens, the allocation-free form `tokenize` is built on. */
export interface TokenArrays {
  ids: number[];
  starts: number[];
  ends: number[];
}

/** Options of the tokenizer; `strip_accents` follows `lowercase` unless set (as in HF). */
export interface TokenizerOptions {
  lowercase: boolean;
  strip_accents?: boolean;
}

/** HF's WordpieceTokenizer.max_input_chars_per_word: longer words become [UNK]. */
export const MAX_INPUT_CHARS_PER_WORD = 100;
const CACHE_MAX_ENTRIES = 200_000;

const ASCII_FLAGS = new Uint8Array(128).map((_, cp) => charFlags(cp));

/** Cached result of one raw word: triples (id, start, end) relative to the word. */
type Pieces = Int32Array;

/** BERT WordPiece tokenizer equal to Hugging Face's BertTokenizer on the same vocab.txt and casing. */
export class WordPieceTokenizer {
  readonly vocab: Vocab;
  readonly lowercase: boolean;
  readonly strip_accents: boolean;
  private readonly cache = new Map<string, Pieces>();
  private readonly specials: Array<{ text: string; id: number }>;
  /** Id of each single BMP CJK character below U+F900, filled on first sight (-1 = not looked up yet). */
  private readonly bmpIds = new Int32Array(0xf900).fill(-1);

  constructor(vocab: Vocab, opts: TokenizerOptions) {
    this.vocab = vocab;
    this.lowercase = opts.lowercase;
    this.strip_accents = opts.strip_accents ?? opts.lowercase;
    this.specials = SPECIAL_TOKENS.flatMap((t) => {
      const id = vocab.id(t);
      return id === undefined ? [] : [{ text: t, id }];
    });
  }

  /** Tokens of `text` with their spans in `text`; no [CLS]/[SEP]. */
  tokenize(text: string): Token[] {
    const a: TokenArrays = { ids: [], starts: [], ends: [] };
    this.tokenizeInto(text, a, 0);
    return a.ids.map((id, i) => ({ id, start: a.starts[i], end: a.ends[i] }));
  }

  /** Token ids of `text` (= HF `convert_tokens_to_ids(tokenize(text))`). */
  ids(text: string): number[] {
    const a: TokenArrays = { ids: [], starts: [], ends: [] };
    this.tokenizeInto(text, a, 0);
    return a.ids;
  }

  /** Appends the tokens of `text` to `out`, spans shifted by `offset` (for tokenizing a slice of a longer text). */
  tokenizeInto(text: string, out: TokenArrays, offset: number): void {
    // No closures here: this loop runs once per character of every sentence (see bench/tokenize-encode.ts).
    const n = text.length;
    let wStart = -1; // first unit of the current word in `text`, -1 when none
    let wEnd = -1; // unit after its last kept character
    let buf = ''; // the word's kept characters, only once a dropped character split it
    let pos: number[] | null = null; // text index of each unit of `buf`, same condition
    for (let i = 0; i < n;) {
      let cp = text.charCodeAt(i);
      let w = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n) {
        const lo = text.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = ((cp - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
          w = 2;
        }
      }
      if (cp === 0x5b && this.specials.length > 0) {
        // '[': HF's added-token trie cuts special tokens out first
        const sp = this.matchSpecial(text, i);
        if (sp) {
          if (wStart >= 0) {
            this.emitWord(text, wStart, wEnd, pos ? buf : null, pos, out, offset);
            wStart = -1;
            pos = null;
          }
          out.ids.push(sp.id);
          out.starts.push(offset + i);
          out.ends.push(offset + i + sp.text.length);
          i += sp.text.length;
          continue;
        }
      }
      const f = cp < 128 ? ASCII_FLAGS[cp] : charFlags(cp);
      if (f & CHAR_CONTROL) {
        i += w;
        continue;
      } // dropped; the word goes on across it
      if (f & (CHAR_SPACE | CHAR_CHINESE)) {
        if (wStart >= 0) {
          this.emitWord(text, wStart, wEnd, pos ? buf : null, pos, out, offset);
          wStart = -1;
          pos = null;
        }
        if (f & CHAR_CHINESE) this.emitChinese(text, cp, i, w, out, offset);
        i += w;
        continue;
      }
      if (wStart < 0) {
        wStart = i;
        wEnd = i + w;
      } else if (pos === null && i === wEnd) wEnd = i + w;
      else {
        if (pos === null) {
          buf = text.slice(wStart, wEnd);
          pos = [];
          for (let j = wStart; j < wEnd; j++) pos.push(j);
        }
        buf += text.slice(i, i + w);
        for (let j = 0; j < w; j++) pos.push(i + j);
        wEnd = i + w;
      }
      i += w;
    }
    if (wStart >= 0) this.emitWord(text, wStart, wEnd, pos ? buf : null, pos, out, offset);
  }

  /** One CJK character: its own word. Unified ideographs are NFC/lower/NFD-stable; compatibility ones are not. */
  private emitChinese(
    text: string,
    cp: number,
    i: number,
    w: number,
    out: TokenArrays,
    offset: number,
  ): void {
    if (cp < 0xf900) {
      let id = this.bmpIds[cp];
      if (id === -1) {
        id = this.vocab.whole.get(text.slice(i, i + w)) ?? this.vocab.unk_id;
        this.bmpIds[cp] = id;
      }
      out.ids.push(id);
      out.starts.push(offset + i);
      out.ends.push(offset + i + w);
    } else if ((cp > 0xfaff && cp < 0x2f800) || cp > 0x2fa1f) {
      out.ids.push(this.vocab.whole.get(text.slice(i, i + w)) ?? this.vocab.unk_id);
      out.starts.push(offset + i);
      out.ends.push(offset + i + w);
    } else {
      this.emitWord(text, i, i + w, null, null, out, offset);
    }
  }

  /**
   * Tokens of one whitespace-free word text[wStart, wEnd) (or `buf` with unit positions `pos` when characters
   * were dropped).
   */
  private emitWord(
    text: string,
    wStart: number,
    wEnd: number,
    buf: string | null,
    pos: number[] | null,
    out: TokenArrays,
    offset: number,
  ): void {
    const pieces = this.wordPieces(buf ?? text.slice(wStart, wEnd));
    for (let k = 0; k < pieces.length; k += 3) {
      out.ids.push(pieces[k]);
      out.starts.push(offset + (pos ? pos[pieces[k + 1]] : wStart + pieces[k + 1]));
      out.ends.push(offset + (pos ? pos[pieces[k + 2] - 1] + 1 : wStart + pieces[k + 2]));
    }
  }

  private matchSpecial(text: string, i: number): { text: string; id: number } | undefined {
    for (const sp of this.specials) if (text.startsWith(sp.text, i)) return sp;
    return undefined;
  }

  /** Normalisation, punctuation split and WordPiece of one whitespace-free word (cached). */
  private wordPieces(word: string): Pieces {
    const hit = this.cache.get(word);
    if (hit) return hit;
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    const out: number[] = [];
    if (isAscii(word)) {
      const norm = this.lowercase ? word.toLowerCase() : word;
      splitOnPunct(norm, (a, b) => this.pieceInto(norm, a, b, out, a, b, null, null));
    } else {
      const nw = normalizeWord(word, { lowercase: this.lowercase, strip_accents: this.strip_accents });
      splitOnPunct(nw.text, (a, b) =>
        this.pieceInto(nw.text, a, b, out, nw.starts[a], nw.ends[b - 1], nw.starts, nw.ends),
      );
    }
    const pieces = Int32Array.from(out);
    this.cache.set(word, pieces);
    return pieces;
  }

  /**
   * Greedy longest-match-first WordPiece of norm[a, b); appends (id, start, end) triples mapped to the raw word
   * through starts/ends (identity when null). [UNK] covers the whole sub-word [uStart, uEnd).
   */
  private pieceInto(
    norm: string,
    a: number,
    b: number,
    out: number[],
    uStart: number,
    uEnd: number,
    starts: number[] | null,
    ends: number[] | null,
  ): void {
    const { whole, cont, max_whole_len, max_cont_len, unk_id } = this.vocab;
    const surrogates = hasSurrogates(norm, a, b);
    if ((surrogates ? countCodePoints(norm, a, b) : b - a) > MAX_INPUT_CHARS_PER_WORD) {
      out.push(unk_id, uStart, uEnd);
      return;
    }
    const first = out.length;
    for (let s = a; s < b;) {
      let e = Math.min(b, s + (s === a ? max_whole_len : max_cont_len));
      if (surrogates && e < b && isLow(norm.charCodeAt(e))) e--;
      let id: number | undefined;
      while (e > s) {
        const sub = norm.slice(s, e);
        id = s === a ? whole.get(sub) : cont.get(sub);
        if (id !== undefined) break;
        e--;
        if (surrogates && e > s && isLow(norm.charCodeAt(e))) e--;
      }
      if (id === undefined) {
        out.length = first;
        out.push(unk_id, uStart, uEnd);
        return;
      }
      out.push(id, starts ? starts[s] : s, ends ? ends[e - 1] : e);
      s = e;
    }
  }
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function hasSurrogates(s: string, a: number, b: number): boolean {
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

function countCodePoints(s: string, a: number, b: number): number {
  let n = 0;
  for (let i = a; i < b; i++)
    if (
      !isLow(s.charCodeAt(i)) ||
      i === a ||
      !(s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)
    )
      n++;
  return n;
}

/** _run_split_on_punc: each punctuation code point is a word of its own; calls `emit(a, b)` per sub-word. */
function splitOnPunct(s: string, emit: (a: number, b: number) => void): void {
  let run = 0;
  for (let i = 0; i < s.length;) {
    const cp = s.codePointAt(i)!;
    const w = cp > 0xffff ? 2 : 1;
    if (charFlags(cp) & CHAR_PUNCT) {
      if (i > run) emit(run, i);
      emit(i, i + w);
      run = i + w;
    }
    i += w;
  }
  if (run < s.length) emit(run, s.length);
}
