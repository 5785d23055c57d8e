// The Reader contract every data format implements, plus the options readers receive.
// Readers parse and locate entity spans; they never tokenize and never decide the bad-row policy.
import type { Example } from '../types.ts';

/** How well a file looks like a reader's format: `score` 0 means "not this format" and `why` says why. */
export interface SniffResult {
  score: number;
  why?: string;
}

/** What a reader gets besides the path. */
export interface ReadOptions {
  /** The file's decoded text when the caller already read it (readDataset does, for sniffing). */
  text?: string;
  /** Reports one bad row (`line` is physical, 1-based); the caller counts, warns or throws per on_bad_row. */
  bad(line: number | undefined, what: string): void;
}

/** One data format: `sniff` judges the first few KB of text, `read` yields examples carrying file and line. */
export interface Reader {
  readonly name: string;
  /** Scores `head` (the first ≤ 8 KB of decoded text, BOM removed) of the file at `path`. */
  sniff(path: string, head: string): SniffResult;
  /** Yields every good example; file-level problems throw DataError, row problems go to `opts.bad`. */
  read(path: string, opts: ReadOptions): AsyncIterable<Example>;
}
