// DeepKE's LM input (tools/preprocess.py `_lm_serialize`) for the deepke-lm head: the head and tail mentions replaced
// by their type words, then `[SEP] head [SEP] tail`, as BertTokenizer.encode gives it. No markers; pure, no I/O.
import type { Example, Mention } from '../data/index.ts';
import { own } from '../own.ts';
import type { TokenArrays, WordPieceTokenizer } from '../tokenize/index.ts';
import type { EncodedExample } from './encode.ts';

/** The type words of one example's head and tail. */
export interface EntityTypePair {
  head_type: string;
  tail_type: string;
}

/**
 * How a dataset is encoded for the deepke-lm head. `relation_types` (relation.csv's head_type/tail_type by relation
 * name) makes each labelled example use the types of its *gold* relation, as DeepKE does when training and testing;
 * that leaks the label into the input, so refit also scores the test split without it. Types carried by the
 * example itself (a row's head_type/tail_type, predict's head_type/tail_type) always come first.
 */
export interface DeepkeLmInput {
  relation_types?: Readonly<Record<string, EntityTypePair>>;
}

/** The type word for each side of `ex` under `input` (undefined: that mention keeps its own text). */
export function deepkeLmTypes(ex: Example, input: DeepkeLmInput): { head?: string; tail?: string } {
  const gold = ex.relation !== undefined ? own(input.relation_types ?? {}, ex.relation) : undefined;
  return { head: ex.head.type ?? gold?.head_type, tail: ex.tail.type ?? gold?.tail_type };
}

/**
 * `[CLS] sentence' [SEP] head [SEP] tail [SEP]`, where sentence' has the head span, then the tail span, replaced by
 * their type words. Unlike DeepKE, which replaces the *first occurrence* of each string, refit replaces the annotated
 * spans (offsets). Overlapping spans: only the head is replaced, which is what DeepKE's head-first string replace
 * leaves (the tail text is gone from the sentence). The literal `[SEP]` becomes the special token, as in HF.
 * Longer than `max_seq_len`: the appended mentions are capped at a quarter of the budget each, and the sentence keeps
 * a window around the entities (DeepKE cuts the end at 512, which can drop the appended mentions).
 * head_pos/tail_pos point at the first token of each (substituted) mention, or 0 when truncation dropped it.
 */
export function encodeDeepkeLm(opts: {
  tokenizer: WordPieceTokenizer;
  example: Example;
  max_seq_len: number;
  types: { head?: string; tail?: string };
}): EncodedExample {
  const { tokenizer, example: ex } = opts;
  const { text, spans } = substitute(ex, opts.types);
  const sentence: TokenArrays = { ids: [], starts: [], ends: [] };
  tokenizer.tokenizeInto(text, sentence, 0);
  const { cls_id, sep_id } = tokenizer.vocab;
  const budget = opts.max_seq_len - 2; // [CLS] and the final [SEP]
  const cap = Math.max(1, Math.floor(budget / 4));
  let head = tokenizer.ids(ex.head.text);
  let tail = tokenizer.ids(ex.tail.text);
  const fits = sentence.ids.length + head.length + tail.length + 2 <= budget;
  if (!fits) {
    head = head.slice(0, cap);
    tail = tail.slice(0, cap);
  }
  const room = budget - head.length - tail.length - 2;
  const h = tokenRange(sentence, spans.head);
  const t = tokenRange(sentence, spans.tail);
  const [from, to] = fits ? [0, sentence.ids.length] : keptWindow(sentence.ids.length, room, h, t);
  const ids = [cls_id, ...sentence.ids.slice(from, to), sep_id, ...head, sep_id, ...tail, sep_id];
  const at = (r: [number, number] | null) => (r && r[0] >= from && r[0] < to ? r[0] - from + 1 : 0);
  return { ids, head_pos: at(h), tail_pos: at(t), truncated: !fits };
}

/** The sentence with type words substituted, and the spans of the head and tail (substituted or not) in it. */
function substitute(
  ex: Example,
  types: { head?: string; tail?: string },
): { text: string; spans: { head: [number, number]; tail: [number, number] } } {
  const overlap = ex.head.start < ex.tail.end && ex.tail.start < ex.head.end;
  const edits: Array<{ m: Mention; word: string; role: 'head' | 'tail' }> = [];
  if (types.head !== undefined) edits.push({ m: ex.head, word: types.head, role: 'head' });
  if (types.tail !== undefined && !(overlap && types.head !== undefined))
    edits.push({ m: ex.tail, word: types.tail, role: 'tail' });
  edits.sort((a, b) => a.m.start - b.m.start);
  const spans = {
    head: [ex.head.start, ex.head.end] as [number, number],
    tail: [ex.tail.start, ex.tail.end] as [number, number],
  };
  let text = '';
  let at = 0;
  let shift = 0;
  for (const e of edits) {
    text += ex.text.slice(at, e.m.start);
    spans[e.role] = [e.m.start + shift, e.m.start + shift + e.word.length];
    text += e.word;
    shift += e.word.length - (e.m.end - e.m.start);
    at = e.m.end;
  }
  text += ex.text.slice(at);
  // A span not replaced but lying after a replaced one moves with the text before it.
  for (const role of ['head', 'tail'] as const) {
    if (edits.some((e) => e.role === role)) continue;
    const m = ex[role];
    const before = edits
      .filter((e) => e.m.end <= m.start)
      .reduce((s, e) => s + e.word.length - (e.m.end - e.m.start), 0);
    spans[role] = [m.start + before, m.end + before];
  }
  return { text, spans };
}

/** [first, last] token indices overlapping the char span, or null when no token does (an all-whitespace span). */
function tokenRange(t: TokenArrays, span: [number, number]): [number, number] | null {
  let first = -1;
  let last = -1;
  for (let i = 0; i < t.ids.length; i++) {
    if (t.ends[i] > span[0] && t.starts[i] < Math.max(span[1], span[0] + 1)) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? null : [first, last];
}

/** [from, to) of a `room`-token window: around both entities when they fit together, else around the head. */
function keptWindow(
  length: number,
  room: number,
  h: [number, number] | null,
  t: [number, number] | null,
): [number, number] {
  if (room >= length) return [0, length];
  const spans = [h, t].filter((r): r is [number, number] => r !== null);
  if (spans.length === 0) return [0, room];
  let lo = Math.min(...spans.map((r) => r[0]));
  let hi = Math.max(...spans.map((r) => r[1]));
  if (hi - lo + 1 > room) [lo, hi] = h ?? t!;
  if (hi - lo + 1 > room) return [lo, lo + room];
  const spare = room - (hi - lo + 1);
  const from = Math.max(0, Math.min(lo - Math.floor(spare / 2), length - room));
  return [from, from + room];
}
