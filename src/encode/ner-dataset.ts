// The encoded dataset file of NER sentences (docs/encoded-dataset.md, "NER"): the shared layout (ds-layout.ts)
// with per-token label ids and each word's first sub-token; header `task: "ner"`. Cached by a hash of everything
// that shapes it, like the relation file.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { DataError } from '../errors.ts';
import type { WordPieceTokenizer } from '../tokenize/index.ts';
import {
  DATASET_EXT,
  buildDatasetFile,
  openDatasetHeader,
  readDatasetArrays,
  cachedDatasetHeader,
  writeAtomic,
  type ArraySpec,
} from './ds-layout.ts';
import { IGNORE_LABEL, encodeNerSentence } from './ner.ts';

/** Bumped whenever NER encoding changes, so older cached files are not reused. */
export const NER_ENCODER_VERSION = 1;

const NER_ARRAYS = ['offsets', 'input_ids', 'lengths', 'label_ids', 'word_offsets', 'word_pos'] as const;
type NerArrayName = (typeof NER_ARRAYS)[number];

/** The JSON header of an NER encoded dataset file. */
export interface NerEncodedHeader {
  format: 'refit-ds';
  version: 1;
  task: 'ner';
  n: number;
  total_tokens: number;
  total_words: number;
  vocab_size: number;
  max_seq_len: number;
  arrays: Record<NerArrayName, ArraySpec>;
  /** Label id → tag (`O` first). */
  labels: string[];
  /** The label id of positions the loss skips. */
  ignore_index: typeof IGNORE_LABEL;
  content_hash: string;
  /** Sentences cut to max_seq_len. */
  truncated: number;
}

/** What the encoder reads of a sentence (an NerSentence fits); `tags` absent for prediction input. */
export interface NerInput {
  tokens: readonly string[];
  tags?: readonly string[];
  file?: string;
  line?: number;
}

/** What writing (or finding in the cache) an NER encoded dataset gives back. */
export interface WrittenNerDataset {
  path: string;
  n: number;
  total_tokens: number;
  truncated: number;
  lengths: Int32Array;
  from_cache: boolean;
}

/** An NER encoded dataset read back: header and typed views (sentence i = input_ids[offsets[i]:offsets[i+1]]). */
export interface NerDatasetView {
  path: string;
  header: NerEncodedHeader;
  offsets: BigInt64Array;
  input_ids: Int32Array;
  lengths: Int32Array;
  label_ids: Int32Array;
  word_offsets: BigInt64Array;
  word_pos: Int32Array;
}

interface NerEncodeOptions {
  sentences: readonly NerInput[];
  /** Label names, index = id (nerLabelNames). */
  labels: readonly string[];
  tokenizer: WordPieceTokenizer;
  max_seq_len: number;
}

/** sha256 over everything that shapes the file: encoder version, vocab, casing, length, labels, sentences. */
export function nerContentHash(opts: NerEncodeOptions): string {
  const h = createHash('sha256');
  const t = opts.tokenizer;
  h.update(
    JSON.stringify([
      'ner',
      NER_ENCODER_VERSION,
      t.vocab.content_hash,
      t.lowercase,
      t.strip_accents,
      opts.max_seq_len,
      opts.labels,
    ]),
  );
  for (const s of opts.sentences) h.update(JSON.stringify([s.tokens, s.tags ?? null]) + '\n');
  return h.digest('hex');
}

/** Encodes `sentences` into `cache_dir/<hash>.refit-ds`, or returns the file already there for the same inputs. */
export async function writeNerDataset(
  opts: NerEncodeOptions & { cache_dir: string },
): Promise<WrittenNerDataset> {
  const hash = nerContentHash(opts);
  const file = path.join(opts.cache_dir, `${hash.slice(0, 32)}${DATASET_EXT}`);
  const cached = cachedDatasetHeader<NerEncodedHeader>(file, hash);
  if (cached) {
    const view = readNerEncoded(file);
    const h = view.header;
    return {
      path: file,
      n: h.n,
      total_tokens: h.total_tokens,
      truncated: h.truncated,
      lengths: view.lengths,
      from_cache: true,
    };
  }
  const labels = new Map(opts.labels.map((name, i) => [name, i]));
  const n = opts.sentences.length;
  const rows = opts.sentences.map((s) =>
    encodeNerSentence({
      tokenizer: opts.tokenizer,
      words: s.tokens,
      tags: s.tags,
      labels,
      max_seq_len: opts.max_seq_len,
      where: s.file !== undefined && s.line !== undefined ? { path: s.file, line: s.line } : undefined,
    }),
  );
  const offsets = new BigInt64Array(n + 1);
  const word_offsets = new BigInt64Array(n + 1);
  const lengths = new Int32Array(n);
  let total = 0;
  let words = 0;
  rows.forEach((r, i) => {
    offsets[i] = BigInt(total);
    word_offsets[i] = BigInt(words);
    lengths[i] = r.ids.length;
    total += r.ids.length;
    words += r.word_pos.length;
  });
  offsets[n] = BigInt(total);
  word_offsets[n] = BigInt(words);
  const input_ids = new Int32Array(total);
  const label_ids = new Int32Array(total);
  const word_pos = new Int32Array(words);
  rows.forEach((r, i) => {
    input_ids.set(r.ids, Number(offsets[i]));
    label_ids.set(r.label_ids, Number(offsets[i]));
    word_pos.set(r.word_pos, Number(word_offsets[i]));
  });
  const truncated = rows.filter((r) => r.truncated).length;
  const arrays = { offsets, input_ids, lengths, label_ids, word_offsets, word_pos };
  const bytes = buildDatasetFile({
    arrays: NER_ARRAYS.map((name) => [name, arrays[name]]),
    header: (specs): NerEncodedHeader => ({
      format: 'refit-ds',
      version: 1,
      task: 'ner',
      n,
      total_tokens: total,
      total_words: words,
      vocab_size: opts.tokenizer.vocab.size,
      max_seq_len: opts.max_seq_len,
      arrays: specs as NerEncodedHeader['arrays'],
      labels: [...opts.labels],
      ignore_index: IGNORE_LABEL,
      content_hash: hash,
      truncated,
    }),
  });
  writeAtomic(file, bytes);
  return { path: file, n, total_tokens: total, truncated, lengths, from_cache: false };
}

/** Reads an NER encoded dataset file into typed arrays. */
export function readNerEncoded(file: string): NerDatasetView {
  const header = openDatasetHeader<NerEncodedHeader>(file);
  if (header.task !== 'ner')
    throw new DataError(
      'E_DATASET_FILE',
      { path: file },
      'not an NER encoded dataset (its header has no task: ner)',
    );
  const view = readDatasetArrays(file, header.arrays);
  return {
    path: file,
    header,
    offsets: view('offsets', BigInt64Array),
    input_ids: view('input_ids', Int32Array),
    lengths: view('lengths', Int32Array),
    label_ids: view('label_ids', Int32Array),
    word_offsets: view('word_offsets', BigInt64Array),
    word_pos: view('word_pos', Int32Array),
  };
}
