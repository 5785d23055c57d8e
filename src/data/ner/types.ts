// The NER types every NER reader yields and the scorer and encoder read. Pure types: no I/O, no tokenization.

/** A tag scheme: BIO (IOB2; a file of only I- and O reads as BIO too), BIOES (IOBES) or BMES. */
export type TagScheme = 'BIO' | 'BIOES' | 'BMES';

/** An entity as a token span of its sentence: tokens [start, end) have type `type`. */
export interface TokenSpan {
  type: string;
  start: number;
  end: number;
}

/** An entity as a code-point span of a text (what predictions and the HTTP API show); `score` when predicted. */
export interface EntitySpan {
  text: string;
  type: string;
  /** Code-point offset of the first character in the sentence text (Python's `str.index`). */
  start: number;
  /** Code-point offset after the last character (exclusive). */
  end: number;
  score?: number;
}

/**
 * One sentence as read from an NER file: its tokens (characters for Chinese), one tag per token, and the
 * entities those tags make, decoded as seqeval's default mode does. `file`/`line` point at its first token.
 */
export interface NerSentence {
  tokens: string[];
  tags: string[];
  /** The entities of `tags`, in order (seqeval's get_entities; never overlapping). */
  spans: TokenSpan[];
  /** Entities that start on a tag other than B-/S- (an I- after O, a type change inside a chunk…). */
  irregular: number;
  /** The tokens joined with the file's joiner ('' for characters, ' ' for words). */
  text: string;
  /** Code-point offset of each token in `text`. */
  offsets: number[];
  file: string;
  line: number;
}

/** A read NER file: its sentences, the reader, the scheme its tags use and how tokens join into text. */
export interface NerDataset {
  sentences: NerSentence[];
  format: string;
  scheme: TagScheme;
  /** '' when the tokens are characters (Chinese, DeepKE's `char TAG`), ' ' when they are words. */
  joiner: '' | ' ';
  /** Every tag seen, in first-seen order. */
  tags: string[];
}

/** A read NER file and how many bad sentences `on_bad_row` let through (skipped). */
export interface NerFile extends NerDataset {
  skipped_rows: number;
}
