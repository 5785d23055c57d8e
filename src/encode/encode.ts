// One example → `[CLS] … [SEP]` ids with entity markers at token boundaries, truncated around the entities.
// Tokenizes the text once; only when an entity edge falls inside a word are the pieces between edges re-tokenized.
import { ConfigError, DataError } from '../errors.ts';
import type { Example, Mention } from '../data/index.ts';
import type { TokenArrays, WordPieceTokenizer } from '../tokenize/index.ts';
import { resolveMarkerIds, type MarkerIds, type MarkerScheme } from './markers.ts';
import { MIN_BODY_BUDGET, truncationPlan, type MarkerPositions } from './truncate.ts';

/** One encoded example: ids with [CLS], markers and [SEP]; head_pos/tail_pos index the start markers in `ids`. */
export interface EncodedExample {
  ids: number[];
  head_pos: number;
  tail_pos: number;
  truncated: boolean;
}

/** The separator that stands for dropped tokens between kept runs in a truncated example: the vocab's [SEP]. */
export const TRUNCATION_SEPARATOR = '[SEP]';

const markerCache = new WeakMap<WordPieceTokenizer, Map<MarkerScheme, MarkerIds>>();

function markerIds(tokenizer: WordPieceTokenizer, scheme: MarkerScheme): MarkerIds {
  let byScheme = markerCache.get(tokenizer);
  if (!byScheme) {
    byScheme = new Map();
    markerCache.set(tokenizer, byScheme);
  }
  let ids = byScheme.get(scheme);
  if (!ids) {
    ids = resolveMarkerIds(tokenizer.vocab, scheme);
    byScheme.set(scheme, ids);
  }
  return ids;
}

/** Encodes one example (see docs: markers, entity-aware truncation to `max_seq_len` including [CLS]/[SEP]). */
export function encodeExample(opts: {
  tokenizer: WordPieceTokenizer;
  example: Example;
  max_seq_len: number;
  markers: MarkerScheme;
}): EncodedExample {
  const { tokenizer, example: ex } = opts;
  if (!(Number.isInteger(opts.max_seq_len) && opts.max_seq_len - 2 >= MIN_BODY_BUDGET)) {
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `max_seq_len ${opts.max_seq_len} is too small for [CLS], [SEP] and four entity markers (use ` +
        `max_seq_len >= ${MIN_BODY_BUDGET + 2})`,
    );
  }
  checkSpan(ex, ex.head, 'head');
  checkSpan(ex, ex.tail, 'tail');
  const ids = markerIds(tokenizer, opts.markers);
  const toks = tokensWithEdges(tokenizer, ex.text, [ex.head.start, ex.head.end, ex.tail.start, ex.tail.end]);
  const { body, pos } = insertMarkers(toks, ex, ids);
  const { cls_id, sep_id } = tokenizer.vocab;
  if (body.length + 2 <= opts.max_seq_len) {
    // the common case: nothing to cut
    body.unshift(cls_id);
    body.push(sep_id);
    return { ids: body, head_pos: pos.head_start + 1, tail_pos: pos.tail_start + 1, truncated: false };
  }
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
  return { ids: out, head_pos, tail_pos, truncated: true };
}

function checkSpan(ex: Example, m: Mention, role: string): void {
  if (!(
    Number.isInteger(m.start) &&
    Number.isInteger(m.end) &&
    m.start >= 0 &&
    m.start <= m.end &&
    m.end <= ex.text.length
  )) {
    throw new DataError(
      'E_DATA_SPAN',
      { path: ex.file, line: ex.line },
      `${role} span ${m.start}-${m.end} is outside the sentence (length ${ex.text.length})`,
    );
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
  for (let k = 0; k + 1 < cuts.length; k++)
    tokenizer.tokenizeInto(text.slice(cuts[k], cuts[k + 1]), out, cuts[k]);
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
    if (t.starts[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface MarkerEvent {
  at: number;
  group: number;
  key1: number;
  key2: number;
  ids: number[];
  slots: Array<keyof MarkerPositions>;
}

/** The marker events of one entity: a start and an end, or one start+end pair when it covers no token. */
function markerEvents(
  t: TokenArrays,
  m: Mention,
  role: 0 | 1,
  startId: number,
  endId: number,
  out: MarkerEvent[],
): void {
  const s = firstAtOrAfter(t, m.start);
  const e = Math.max(s, firstAtOrAfter(t, m.end));
  const [startSlot, endSlot]: Array<keyof MarkerPositions> =
    role === 0 ? ['head_start', 'head_end'] : ['tail_start', 'tail_end'];
  if (s === e) {
    out.push({ at: s, group: 1, key1: role, key2: 0, ids: [startId, endId], slots: [startSlot, endSlot] });
    return;
  }
  out.push({ at: e, group: 0, key1: -s, key2: -role, ids: [endId], slots: [endSlot] });
  out.push({ at: s, group: 2, key1: -e, key2: role, ids: [startId], slots: [startSlot] });
}

function startId(ids: MarkerIds, m: Mention, which: 'head_start' | 'tail_start'): number {
  return (m.type !== undefined ? ids.types.get(m.type)?.[which] : undefined) ?? ids[which];
}

/**
 * Inserts the markers. At one token position: closing markers of entities that end there (the inner one first),
 * then empty entities as a start+end pair, then opening markers (the outer one first, head before tail on a tie).
 */
function insertMarkers(
  t: TokenArrays,
  ex: Example,
  ids: MarkerIds,
): { body: number[]; pos: MarkerPositions } {
  const events: MarkerEvent[] = [];
  markerEvents(t, ex.head, 0, startId(ids, ex.head, 'head_start'), ids.head_end, events);
  markerEvents(t, ex.tail, 1, startId(ids, ex.tail, 'tail_start'), ids.tail_end, events);
  events.sort((a, b) => a.at - b.at || a.group - b.group || a.key1 - b.key1 || a.key2 - b.key2);
  const body: number[] = [];
  const pos: MarkerPositions = { head_start: -1, head_end: -1, tail_start: -1, tail_end: -1 };
  let i = 0;
  for (const ev of events) {
    for (; i < ev.at; i++) body.push(t.ids[i]);
    for (let k = 0; k < ev.ids.length; k++) {
      pos[ev.slots[k]] = body.length;
      body.push(ev.ids[k]);
    }
  }
  for (; i < t.ids.length; i++) body.push(t.ids[i]);
  return { body, pos };
}
