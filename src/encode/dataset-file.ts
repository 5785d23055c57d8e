// The encoded dataset file of relation examples (docs/encoded-dataset.md): the shared layout (ds-layout.ts) with
// the relation arrays. Written once to a temp name and renamed; cached by a hash of everything that shapes it.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { DataError } from '../errors.ts';
import type { Example, RelationSet } from '../data/index.ts';
import type { WordPieceTokenizer } from '../tokenize/index.ts';
import { encodeExample, type EncodedExample } from './encode.ts';
import { deepkeLmTypes, encodeDeepkeLm, type DeepkeLmInput } from './deepke-lm.ts';
import type { MarkerScheme } from './markers.ts';
import {
  DATASET_EXT,
  buildDatasetFile,
  readDatasetArrays,
  cachedDatasetHeader,
  openDatasetHeader,
  writeAtomic,
  type ArraySpec,
} from './ds-layout.ts';

export { DATASET_MAGIC, DATASET_EXT } from './ds-layout.ts';
/** Bumped whenever encoding changes, so older cached files are not reused. */
export const ENCODER_VERSION = 1;

/**
 * Options shared by one-example encoding and dataset writing; `deepke_lm` selects DeepKE's LM text instead of
 * markers.
 */
export interface EncodeOptions {
  tokenizer: WordPieceTokenizer;
  max_seq_len: number;
  markers: MarkerScheme;
  deepke_lm?: DeepkeLmInput;
}

/**
 * Encodes one example the way the model's head reads it: DeepKE's LM text (deepke-lm) or entity markers (the
 * others).
 */
export function encodeForHead(opts: EncodeOptions & { example: Example }): EncodedExample {
  if (opts.deepke_lm)
    return encodeDeepkeLm({
      tokenizer: opts.tokenizer,
      example: opts.example,
      max_seq_len: opts.max_seq_len,
      types: deepkeLmTypes(opts.example, opts.deepke_lm),
    });
  return encodeExample(opts);
}

const ARRAY_NAMES = ['offsets', 'input_ids', 'lengths', 'head_pos', 'tail_pos', 'labels'] as const;
type ArrayName = (typeof ARRAY_NAMES)[number];

/**
 * The JSON header of an encoded dataset file; `truncated` (examples cut to max_seq_len) is an addition to the
 * documented keys.
 */
export interface EncodedHeader {
  format: 'refit-ds';
  version: 1;
  n: number;
  total_tokens: number;
  vocab_size: number;
  max_seq_len: number;
  arrays: Record<ArrayName, ArraySpec>;
  relations: string[];
  content_hash: string;
  truncated: number;
}

/**
 * An encoded dataset read back: its header and typed views of its arrays (example i =
 * input_ids[offsets[i]:offsets[i+1]]).
 */
export interface EncodedDatasetView {
  path: string;
  header: EncodedHeader;
  offsets: BigInt64Array;
  input_ids: Int32Array;
  lengths: Int32Array;
  head_pos: Int32Array;
  tail_pos: Int32Array;
  labels: Int32Array;
  /** The ids of example i (a view, not a copy). */
  example(i: number): Int32Array;
}

/** What writing (or finding in the cache) an encoded dataset gives back. */
export interface WrittenDataset {
  path: string;
  n: number;
  total_tokens: number;
  truncated: number;
  lengths: Int32Array;
  from_cache: boolean;
}

/**
 * sha256 over everything that shapes the file: encoder version, vocab, casing, markers, length, relations,
 * examples.
 */
export function datasetContentHash(
  opts: { examples: readonly Example[]; relations: RelationSet } & EncodeOptions,
): string {
  const h = createHash('sha256');
  const t = opts.tokenizer;
  const scheme = opts.deepke_lm ? { deepke_lm: opts.deepke_lm } : opts.markers;
  h.update(
    JSON.stringify([
      ENCODER_VERSION,
      t.vocab.content_hash,
      t.lowercase,
      t.strip_accents,
      scheme,
      opts.max_seq_len,
      opts.relations.names,
    ]),
  );
  for (const ex of opts.examples) {
    h.update(
      JSON.stringify([
        ex.text,
        ex.head.start,
        ex.head.end,
        ex.head.type ?? null,
        ex.tail.start,
        ex.tail.end,
        ex.tail.type ?? null,
        ex.relation ?? null,
      ]),
    );
    h.update('\n');
  }
  return h.digest('hex');
}

/**
 * Encodes `examples` (see encodeForHead) into `cache_dir/<hash>.refit-ds`, or returns the file already there
 * for the same inputs.
 */
export async function writeEncodedDataset(
  opts: { examples: Example[]; relations: RelationSet; cache_dir: string } & EncodeOptions,
): Promise<WrittenDataset> {
  const hash = datasetContentHash(opts);
  const file = path.join(opts.cache_dir, `${hash.slice(0, 32)}${DATASET_EXT}`);
  const cached = cachedDatasetHeader<EncodedHeader>(file, hash);
  if (cached) {
    const view = readEncodedDataset(file);
    return {
      path: file,
      n: view.header.n,
      total_tokens: view.header.total_tokens,
      truncated: view.header.truncated,
      lengths: view.lengths,
      from_cache: true,
    };
  }
  const label = labelIndex(opts.relations);
  const n = opts.examples.length;
  const lengths = new Int32Array(n);
  const head = new Int32Array(n);
  const tail = new Int32Array(n);
  const labels = new Int32Array(n);
  const all: number[][] = [];
  let truncated = 0;
  let total = 0;
  opts.examples.forEach((ex, i) => {
    const enc = encodeForHead({ ...opts, example: ex });
    all.push(enc.ids);
    lengths[i] = enc.ids.length;
    head[i] = enc.head_pos;
    tail[i] = enc.tail_pos;
    labels[i] = label(ex);
    if (enc.truncated) truncated++;
    total += enc.ids.length;
  });
  const ids = new Int32Array(total);
  const offsets = new BigInt64Array(n + 1);
  let at = 0;
  all.forEach((row, i) => {
    offsets[i] = BigInt(at);
    ids.set(row, at);
    at += row.length;
  });
  offsets[n] = BigInt(at);
  const bytes = buildFile({
    hash,
    vocab_size: opts.tokenizer.vocab.size,
    max_seq_len: opts.max_seq_len,
    relations: opts.relations.names,
    truncated,
    arrays: { offsets, input_ids: ids, lengths, head_pos: head, tail_pos: tail, labels },
  });
  writeAtomic(file, bytes);
  return { path: file, n, total_tokens: total, truncated, lengths, from_cache: false };
}

function labelIndex(relations: RelationSet): (ex: Example) => number {
  const index = new Map(relations.names.map((name, i) => [name, i]));
  return (ex) => {
    if (ex.relation === undefined) return -1;
    const id = index.get(ex.relation);
    if (id === undefined)
      throw new DataError(
        'E_DATA_RELATION',
        { path: ex.file, line: ex.line },
        `relation "${ex.relation}" is not in the relation set (${relations.names.length} names)`,
      );
    return id;
  };
}

/** Lays out header + arrays (ds-layout.ts); the header's keys in the documented order. */
function buildFile(opts: {
  hash: string;
  vocab_size: number;
  max_seq_len: number;
  relations: string[];
  truncated: number;
  arrays: Record<ArrayName, BigInt64Array | Int32Array>;
}): Buffer {
  const a = opts.arrays;
  return buildDatasetFile({
    arrays: ARRAY_NAMES.map((name) => [name, a[name]]),
    header: (arrays): EncodedHeader => ({
      format: 'refit-ds',
      version: 1,
      n: a.lengths.length,
      total_tokens: a.input_ids.length,
      vocab_size: opts.vocab_size,
      max_seq_len: opts.max_seq_len,
      arrays: arrays as EncodedHeader['arrays'],
      relations: opts.relations,
      content_hash: opts.hash,
      truncated: opts.truncated,
    }),
  });
}

/** Reads an encoded dataset file into typed arrays (copied once so every array is aligned). */
export function readEncodedDataset(file: string): EncodedDatasetView {
  const header = openDatasetHeader<EncodedHeader>(file);
  const view = readDatasetArrays(file, header.arrays);
  const offsets = view('offsets', BigInt64Array);
  const input_ids = view('input_ids', Int32Array);
  return {
    path: file,
    header,
    offsets,
    input_ids,
    lengths: view('lengths', Int32Array),
    head_pos: view('head_pos', Int32Array),
    tail_pos: view('tail_pos', Int32Array),
    labels: view('labels', Int32Array),
    example: (i: number) => input_ids.subarray(Number(offsets[i]), Number(offsets[i + 1])),
  };
}
