// A predict request's items and answers, and where an item's entities are: shared by both engines, the server and
// `refit predict`. No I/O, no encoding (EnginePredictor encodes).
import type { Example } from '../data/types.ts';
import { codePointToUtf16, utf16ToCodePoint } from '../offsets.ts';
import type { Liveness } from './model-worker.ts';

/**
 * One sentence with two entity mentions. Offsets count code points (Python's `str.index`, as in data files) and
 * are optional: the first occurrence is used without them.
 */
export interface PredictItem {
  text: string;
  head: string;
  tail: string;
  head_offset?: number;
  tail_offset?: number;
  /**
   * Entity types, as DeepKE's predict.py asks for them: the deepke-lm head puts them into the text (without
   * them the mentions keep their text).
   */
  head_type?: string;
  tail_type?: string;
}

/** One answer, in input order; `error` instead of a relation when the item could not be encoded. */
export interface Prediction {
  id: number;
  head: string;
  tail: string;
  relation?: string;
  score?: number;
  top?: Array<{ relation: string; score: number }>;
  error?: string;
}

/** A loaded model ready to predict; `close` stops its worker; its liveness is what the server watches. */
export interface Predictor extends Liveness {
  relations: string[];
  na_label: string | null;
  max_seq_len: number;
  model: Record<string, unknown>;
  predict(items: PredictItem[], opts?: { top_k?: number; na_threshold?: number }): Promise<Prediction[]>;
  close(): Promise<void>;
}

/**
 * Finds a mention: at the given code-point offset (checked), else its first occurrence; an error line when it is
 * not there. The span returned indexes the JS string (UTF-16 units).
 */
export function locate(
  text: string,
  mention: string,
  offset: number | undefined,
  role: 'head' | 'tail',
): { start: number; end: number } | string {
  if (!mention) return `${role} is empty`;
  if (offset !== undefined) {
    const at = codePointToUtf16(text, offset);
    if (text.startsWith(mention, at)) return { start: at, end: at + mention.length };
    // A client that counted UTF-16 units (JavaScript, Java) lands here after an emoji or astral CJK character.
    const hint = text.startsWith(mention, offset)
      ? ` (offsets count code points, as Python's str.index: it is at ${utf16ToCodePoint(text, offset)})`
      : '';
    return `${role} '${mention}' is not at ${role}_offset ${offset}${hint}`;
  }
  const at = text.indexOf(mention);
  return at < 0 ? `${role} '${mention}' is not in the text` : { start: at, end: at + mention.length };
}

/** Turns an item into an Example, or an error line. */
export function itemExample(item: PredictItem, line: number): Example | string {
  if (typeof item.text !== 'string' || typeof item.head !== 'string' || typeof item.tail !== 'string')
    return 'needs string fields text, head and tail';
  const h = locate(item.text, item.head, item.head_offset, 'head');
  if (typeof h === 'string') return h;
  const t = locate(item.text, item.tail, item.tail_offset, 'tail');
  if (typeof t === 'string') return t;
  const typed = (type: unknown) => (typeof type === 'string' && type.trim() ? { type: type.trim() } : {});
  return {
    text: item.text,
    head: { text: item.head, ...h, ...typed(item.head_type) },
    tail: { text: item.tail, ...t, ...typed(item.tail_type) },
    file: '<predict>',
    line,
  };
}
