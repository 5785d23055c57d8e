// The encoded dataset file (docs/encoded-dataset.md): magic, JSON header, 8-byte aligned little-endian arrays.
// Written once to a temp name and renamed; cached by a hash of everything that shapes its content.
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  openSync,
  readSync,
  closeSync,
} from 'node:fs';
import { endianness } from 'node:os';
import path from 'node:path';
import { DataError, RefitError, EnvironmentError, fsError } from '../errors.ts';
import type { Example, RelationSet } from '../data/index.ts';
import type { WordPieceTokenizer } from '../tokenize/index.ts';
import { encodeExample, type EncodedExample } from './encode.ts';
import { deepkeLmTypes, encodeDeepkeLm, type DeepkeLmInput } from './deepke-lm.ts';
import type { MarkerScheme } from './markers.ts';

/** The file's magic bytes and extension. */
export const DATASET_MAGIC = 'REFITDS1';
export const DATASET_EXT = '.refit-ds';
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
  arrays: Record<ArrayName, { dtype: 'int64' | 'int32'; offset: number; shape: [number] }>;
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
  const cached = readCachedHeader(file, hash);
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

function align8(x: number): number {
  return Math.ceil(x / 8) * 8;
}

/** Lays out header + arrays; the header is padded with spaces so the first array starts 8-byte aligned. */
function buildFile(opts: {
  hash: string;
  vocab_size: number;
  max_seq_len: number;
  relations: string[];
  truncated: number;
  arrays: Record<ArrayName, BigInt64Array | Int32Array>;
}): Buffer {
  if (endianness() !== 'LE')
    throw new RefitError('E_ENDIAN', 'encoded datasets are little-endian; this machine is big-endian');
  const a = opts.arrays;
  let dataStart = 0;
  let json = '';
  // Offsets live inside the header, so iterate until the header length (and thus the offsets) stop changing.
  for (;;) {
    let at = dataStart;
    const arrays = {} as EncodedHeader['arrays'];
    for (const name of ARRAY_NAMES) {
      arrays[name] = { dtype: name === 'offsets' ? 'int64' : 'int32', offset: at, shape: [a[name].length] };
      at = align8(at + a[name].byteLength);
    }
    const header: EncodedHeader = {
      format: 'refit-ds',
      version: 1,
      n: a.lengths.length,
      total_tokens: a.input_ids.length,
      vocab_size: opts.vocab_size,
      max_seq_len: opts.max_seq_len,
      arrays,
      relations: opts.relations,
      content_hash: opts.hash,
      truncated: opts.truncated,
    };
    json = JSON.stringify(header);
    const need = align8(12 + Buffer.byteLength(json));
    if (need === dataStart) break;
    dataStart = need;
  }
  const last = ARRAY_NAMES[ARRAY_NAMES.length - 1];
  const parsed = JSON.parse(json) as EncodedHeader;
  const size = parsed.arrays[last].offset + a[last].byteLength;
  const buf = Buffer.alloc(size);
  buf.write(DATASET_MAGIC, 0, 'ascii');
  const headerBytes = dataStart - 12;
  buf.writeUInt32LE(headerBytes, 8);
  buf.write(json.padEnd(json.length + headerBytes - Buffer.byteLength(json), ' '), 12, 'utf8');
  for (const name of ARRAY_NAMES) {
    const src = a[name];
    Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(buf, parsed.arrays[name].offset);
  }
  return buf;
}

function writeAtomic(file: string, bytes: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    // The cache folder is the machine's side (full disk, read-only, no permission): exit 1, the path and the cause.
    const why =
      fsError(e, file)?.message.slice(file.length + 2) ?? String((e as NodeJS.ErrnoException).code ?? e);
    throw new EnvironmentError(
      'E_CACHE_WRITE',
      `${file}: cannot write the encoded dataset: ${why} (set REFIT_CACHE to a writable folder)`,
      { cause: e },
    );
  }
}

/** The header of `file` when it exists and was made from the same inputs (`hash`); otherwise undefined. */
function readCachedHeader(file: string, hash: string): EncodedHeader | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const header = readHeader(file);
    return header.content_hash === hash ? header : undefined;
  } catch {
    return undefined; // a damaged cache file is simply re-encoded
  }
}

function readHeader(file: string): EncodedHeader {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(12);
    if (readSync(fd, head, 0, 12, 0) !== 12 || head.toString('ascii', 0, 8) !== DATASET_MAGIC)
      throw new DataError(
        'E_DATASET_FILE',
        { path: file },
        `not an encoded dataset (no ${DATASET_MAGIC} magic)`,
      );
    const len = head.readUInt32LE(8);
    const json = Buffer.alloc(len);
    if (readSync(fd, json, 0, len, 12) !== len)
      throw new DataError('E_DATASET_FILE', { path: file }, 'the header is cut short');
    return JSON.parse(json.toString('utf8')) as EncodedHeader;
  } finally {
    closeSync(fd);
  }
}

/** Reads an encoded dataset file into typed arrays (copied once so every array is aligned). */
export function readEncodedDataset(file: string): EncodedDatasetView {
  let header: EncodedHeader;
  try {
    header = readHeader(file);
  } catch (e) {
    if (e instanceof RefitError) throw e;
    throw new DataError(
      'E_DATASET_FILE',
      { path: file },
      `cannot read the encoded dataset (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (header.format !== 'refit-ds' || header.version !== 1)
    throw new DataError(
      'E_DATASET_FILE',
      { path: file },
      `unsupported format ${header.format} version ${header.version}`,
    );
  const raw = readFileSync(file);
  const ab = new ArrayBuffer(raw.byteLength);
  new Uint8Array(ab).set(raw);
  const view = <T>(
    name: ArrayName,
    Ctor: { new (b: ArrayBuffer, o: number, l: number): T; BYTES_PER_ELEMENT: number },
  ): T => {
    const spec = header.arrays[name];
    if (spec.offset + spec.shape[0] * Ctor.BYTES_PER_ELEMENT > ab.byteLength)
      throw new DataError('E_DATASET_FILE', { path: file }, `array ${name} runs past the end of the file`);
    return new Ctor(ab, spec.offset, spec.shape[0]);
  };
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
