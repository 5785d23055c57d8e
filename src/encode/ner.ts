// One NER sentence → `[CLS] sub-tokens [SEP]` ids and a label id per position: each word (a character for Chinese)
// is tokenized on its own, its first sub-token carries the word's tag id and the rest, [CLS] and [SEP] carry
// IGNORE_LABEL (-100, what torch's cross_entropy ignores). A word the tokenizer reduces to nothing (a control or
// private-use character) becomes [UNK], so every word keeps a position. Truncation keeps the first
// max_seq_len - 2 sub-tokens, as DeepKE does; the words cut off have no position (word_pos -1).
import { ConfigError, DataError } from '../errors.ts';
import type { WordPieceTokenizer } from '../tokenize/index.ts';

/** The label id of positions the loss and the scorer skip: sub-tokens after a word's first, [CLS], [SEP]. */
export const IGNORE_LABEL = -100;

/** One encoded NER sentence; `label_ids` and `ids` have the same length. */
export interface EncodedNerExample {
  ids: number[];
  /** The tag id at each word's first sub-token, IGNORE_LABEL elsewhere (all IGNORE_LABEL without tags). */
  label_ids: number[];
  /** For each word, the index in `ids` of its first sub-token; -1 when truncation dropped the word. */
  word_pos: number[];
  truncated: boolean;
}

/** The sub-token ids of one word: the tokenizer's, or [UNK] when it keeps nothing of the word. */
export function wordPieceIds(tokenizer: WordPieceTokenizer, word: string): number[] {
  const ids = tokenizer.ids(word);
  return ids.length > 0 ? ids : [tokenizer.vocab.unk_id];
}

/** Sub-tokens of a whole sentence (without [CLS]/[SEP]): what `refit data stats --vocab` counts. */
export function nerSubtokenCount(tokenizer: WordPieceTokenizer, words: readonly string[]): number {
  let n = 0;
  for (const w of words) n += wordPieceIds(tokenizer, w).length;
  return n;
}

/**
 * Encodes one sentence of `words` (tags optional: prediction input has none); `labels` maps a tag to its id and
 * `where` names the sentence in an error about a tag outside it.
 */
export function encodeNerSentence(opts: {
  tokenizer: WordPieceTokenizer;
  words: readonly string[];
  tags?: readonly string[];
  labels: ReadonlyMap<string, number>;
  max_seq_len: number;
  where?: { path: string; line: number };
}): EncodedNerExample {
  const { tokenizer, words, tags } = opts;
  if (!(Number.isInteger(opts.max_seq_len) && opts.max_seq_len >= 3))
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `max_seq_len ${opts.max_seq_len} is too small for [CLS], one token and [SEP] (use max_seq_len >= 3)`,
    );
  const budget = opts.max_seq_len - 1; // the last position is [SEP]
  const ids = [tokenizer.vocab.cls_id];
  const label_ids = [IGNORE_LABEL];
  const word_pos: number[] = [];
  let truncated = false;
  for (let w = 0; w < words.length; w++) {
    if (ids.length >= budget) {
      truncated = true;
      word_pos.push(-1);
      continue;
    }
    const pieces = wordPieceIds(tokenizer, words[w]);
    const label = tags ? labelId(opts, tags[w], w) : IGNORE_LABEL;
    const keep = Math.min(pieces.length, budget - ids.length);
    if (keep < pieces.length) truncated = true;
    word_pos.push(ids.length);
    for (let k = 0; k < keep; k++) {
      ids.push(pieces[k]);
      label_ids.push(k === 0 ? label : IGNORE_LABEL);
    }
  }
  ids.push(tokenizer.vocab.sep_id);
  label_ids.push(IGNORE_LABEL);
  return { ids, label_ids, word_pos, truncated };
}

function labelId(
  opts: { labels: ReadonlyMap<string, number>; where?: { path: string; line: number } },
  tag: string,
  w: number,
): number {
  const id = opts.labels.get(tag);
  if (id !== undefined) return id;
  const where = opts.where ? { path: opts.where.path, line: opts.where.line + w } : { path: '(sentence)' };
  throw new DataError('E_DATA_ROW', where, `tag '${tag}' is not one of the ${opts.labels.size} labels`);
}

/**
 * Each word's predicted tag and its probability, read at the word's first sub-token (`pred`: a label id per
 * position, `prob`: its probability); a word truncation cut off (word_pos -1) is `O` with probability 1.
 */
export function wordPredictions(opts: {
  word_pos: ArrayLike<number>;
  pred: ArrayLike<number>;
  prob?: ArrayLike<number>;
  labels: readonly string[];
}): { tags: string[]; probs: number[] } {
  const tags: string[] = [];
  const probs: number[] = [];
  for (let w = 0; w < opts.word_pos.length; w++) {
    const p = opts.word_pos[w];
    tags.push(p < 0 ? 'O' : opts.labels[opts.pred[p]]);
    probs.push(p < 0 || !opts.prob ? 1 : opts.prob[p]);
  }
  return { tags, probs };
}
