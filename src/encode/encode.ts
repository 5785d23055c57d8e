// One example → `[CLS] … [SEP]` ids with entity markers at token boundaries, truncated around the entities.
// Tokenizes the text once; only when an entity edge falls inside a word are the pieces between edges re-tokenized.
import { DataError } from '../errors.ts';
import type { Example, Mention } from '../data/index.ts';
import type { TokenArrays, WordPieceTokenizer } from '../tokenize/index.ts';
import { resolveMarkerIds, type MarkerIds, type MarkerScheme } from './markers.ts';
import { truncationPlan, type MarkerPositions } from './truncate.ts';

/** One encoded example: ids with [CLS], markers and [SEP]; head_pos/tail_pos index the start markers in `ids`. */
export interface EncodedExample { ids: number[]; head_pos: number; tail_pos: number; truncated: boolean }

/** The separator that stands for dropped tokens between kept runs in a truncated example: the vocab's [SEP]. */
export const TRUNCATION_SEPARATOR = '[SEP]';

const markerCache = new WeakMap<WordPieceTokenizer, Map<MarkerScheme, MarkerIds>>();

function markerIds(tokenizer: WordPieceTokenizer, scheme: MarkerScheme): MarkerIds {
  let byScheme = markerCache.get(tokenizer);
  if (!byScheme) { byScheme = new Map(); markerCache.set(tokenizer, byScheme); }
  let ids = byScheme.get(scheme);
  if (!ids) { ids = resolveMarkerIds(tokenizer.vocab, scheme); byScheme.set(scheme, ids); }
  return ids;
}

/** Encodes one example (see docs: markers, entity-aware truncation to `max_seq_len` including [CLS]/[SEP]). */
export function encodeExample(opts: { tokenizer: WordPieceTokenizer; example: Example; max_seq_len: number; markers: MarkerScheme }): EncodedExample {
  const { tokenizer, example: ex } = opts;
  checkSpan(ex, ex.head, 'head');
  checkSpan(ex, ex.tail, 'tail');
  const ids = markerIds(tokenizer, opts.markers);
  const toks = tokensWithEdges(tokenizer, ex.text, [ex.head.start, ex.head.end, ex.tail.start, ex.tail.end]);
  const { body, pos } = insertMarkers(toks, ex, ids);
  const { cls_id, sep_id } = tokenizer.vocab;
  const plan = truncationPlan({ length: body.length, budget: opts.max_seq_len - 2, markers: pos });
  const out = [cls_id];
  let head_pos = -1;
  let tail_pos = -1;
  for (const k of plan) {
    if (k === pos.head_start) head_pos = out.length;
    if (k === pos.tail_start) tail_pos = out.length;
    out.push(k < 0 ? sep_id : body[k]);
  }
  out.push(sep_id);
  return { ids: out, head_pos, tail_pos, truncated: plan.length < body.length || plan.includes(-1) };
}

function checkSpan(ex: Example, m: Mention, role: string): void {
  if (!(Number.isInteger(m.start) && Number.isInteger(m.end) && m.start >= 0 && m.start <= m.end && m.end <= ex.text.length)) {
    throw new DataError('E_DATA_SPAN', { path: ex.file, line: ex.line }, `${role} span ${m.start}-${m.end} is outside the sentence (length ${ex.text.length})`);
  }
}

/**
 * Tokens of `text` such that every edge in `edges` is a token boundary and a word start. When the whole-text
 * tokens already satisfy that (the usual case) they are used; otherwise the text is tokenized piece by piece
 * between the edges, so "NewYork" with an entity "York" becomes "new" | "york", not "newyork" or "##york".
 */
export function tokensWithEdges(tokenizer: WordPieceTokenizer, text: string, edges: number[]): TokenArrays {
  const whole: TokenArrays = { ids: [], starts: [], ends: [] };
  tokenizer.tokenizeInto(text, whole, 0);
  if (edges.every((e) => isWordEdge(tokenizer, whole, e))) return whole;
  const cuts = [...new Set([0, ...edges, text.length])].sort((a, b) => a - b);
  const out: TokenArrays = { ids: [], starts: [], ends: [] };
  for (let k = 0; k + 1 < cuts.length; k++) tokenizer.tokenizeInto(text.slice(cuts[k], cuts[k + 1]), out, cuts[k]);
  return out;
}

/** True when no token straddles `edge` and the token starting there (if any) is not a ##-continuation. */
function isWordEdge(tokenizer: WordPieceTokenizer, t: TokenArrays, edge: number): boolean {
  for (let i = 0; i < t.ids.length; i++) {
    if (t.starts[i] < edge && t.ends[i] > edge) return false;
    if (t.starts[i] === edge) return !tokenizer.vocab.isContinuation(t.ids[i]);
    if (t.starts[i] > edge) return true;
  }
  return true;
}

/** First token index whose start is at or after `offset`. */
function firstAtOrAfter(t: TokenArrays, offset: number): number {
  let lo = 0;
  let hi = t.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t.starts[mid] < offset) lo = mid + 1; else hi = mid;
  }
  return lo;
}

interface MarkerEvent { at: number; group: number; key1: number; key2: number; ids: number[]; role: 'head' | 'tail' }

/**
 * Inserts the markers. At one token position: closing markers of entities that end there (the inner one first),
 * then empty entities as a start+end pair, then opening markers (the outer one first, head before tail on a tie).
 */
function insertMarkers(t: TokenArrays, ex: Example, ids: MarkerIds): { body: number[]; pos: MarkerPositions } {
  const events: MarkerEvent[] = [];
  const add = (m: Mention, role: 'head' | 'tail', start: number, end: number): void => {
    const s = firstAtOrAfter(t, m.start);
    const e = Math.max(s, firstAtOrAfter(t, m.end));
    const r = role === 'head' ? 0 : 1;
    if (s === e) { events.push({ at: s, group: 1, key1: r, key2: 0, ids: [start, end], role }); return; }
    events.push({ at: e, group: 0, key1: -s, key2: -r, ids: [end], role });
    events.push({ at: s, group: 2, key1: -e, key2: r, ids: [start], role });
  };
  const typed = (m: Mention, which: 'head_start' | 'tail_start'): number => (m.type !== undefined ? ids.types.get(m.type)?.[which] : undefined) ?? ids[which];
  add(ex.head, 'head', typed(ex.head, 'head_start'), ids.head_end);
  add(ex.tail, 'tail', typed(ex.tail, 'tail_start'), ids.tail_end);
  events.sort((a, b) => a.at - b.at || a.group - b.group || a.key1 - b.key1 || a.key2 - b.key2);
  const body: number[] = [];
  const pos: MarkerPositions = { head_start: -1, head_end: -1, tail_start: -1, tail_end: -1 };
  let ev = 0;
  const flushEvents = (at: number): void => {
    for (; ev < events.length && events[ev].at === at; ev++) {
      const e = events[ev];
      for (let k = 0; k < e.ids.length; k++) {
        const isStart = e.group === 2 || (e.group === 1 && k === 0);
        pos[`${e.role}_${isStart ? 'start' : 'end'}` as keyof MarkerPositions] = body.length;
        body.push(e.ids[k]);
      }
    }
  };
  for (let i = 0; i < t.ids.length; i++) {
    flushEvents(i);
    body.push(t.ids[i]);
  }
  flushEvents(t.ids.length);
  return { body, pos };
}
