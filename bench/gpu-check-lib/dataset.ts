// Synthetic encoded datasets for the GPU check: token sequences of chosen lengths written as `.refit-ds`
// files (docs/encoded-dataset.md) that the real worker memory-maps, and a Chinese-RE-like length distribution.
import { randomUUID } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../src/rng.ts';

/** [CLS] and [SEP] ids of the BERT vocabularies (Chinese and English alike). */
const CLS_ID = 101;
const SEP_ID = 102;
/** Random body tokens are drawn from [FIRST_BODY_ID, vocab_size) (skips [unused*] and specials). */
const FIRST_BODY_ID = 1000;

/**
 * Sentence lengths in tokens like Chinese relation-extraction data (mean ≈ 68, long tail to ≈ 415):
 * the golden measurement's recipe, int(lognormal(4.0, 0.55)) + 6 clamped to [12, 510], with our own seeded draws.
 */
export function chineseReLengths(n: number, seed: number, max = 510): Int32Array {
  const rand = seededRandom(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(rand(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rand());
    out[i] = Math.max(12, Math.min(Math.floor(Math.exp(4.0 + 0.55 * z)) + 6, max));
  }
  return out;
}

/** Summary of a length list: count, mean, max. */
export function lengthStats(lengths: ArrayLike<number>): {
  n: number;
  mean: number;
  max: number;
  total: number;
} {
  let total = 0;
  let max = 0;
  for (let i = 0; i < lengths.length; i++) {
    total += lengths[i];
    max = Math.max(max, lengths[i]);
  }
  return { n: lengths.length, mean: lengths.length ? total / lengths.length : 0, max, total };
}

function align8(x: number): number {
  return Math.ceil(x / 8) * 8;
}

/** Random examples of the given lengths: [CLS] body [SEP], entity positions inside the body, labels in [0, num_labels). */
function synthArrays(lengths: Int32Array, vocab_size: number, num_labels: number, seed: number) {
  const rand = seededRandom(seed);
  const n = lengths.length;
  const total = lengths.reduce((s, x) => s + x, 0);
  const ids = new Int32Array(total);
  const offsets = new BigInt64Array(n + 1);
  const head = new Int32Array(n);
  const tail = new Int32Array(n);
  const labels = new Int32Array(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const len = lengths[i];
    offsets[i] = BigInt(at);
    ids[at] = CLS_ID;
    for (let k = 1; k < len - 1; k++)
      ids[at + k] = FIRST_BODY_ID + Math.floor(rand() * (vocab_size - FIRST_BODY_ID));
    ids[at + len - 1] = SEP_ID;
    const body = Math.max(1, len - 2);
    head[i] = 1 + Math.floor(rand() * body);
    tail[i] = 1 + Math.floor(rand() * body);
    labels[i] = Math.floor(rand() * num_labels);
    at += len;
  }
  offsets[n] = BigInt(at);
  return { offsets, input_ids: ids, lengths, head_pos: head, tail_pos: tail, labels, total };
}

/** Writes a synthetic `.refit-ds` file (atomically) into `dir` and returns its path. */
export function writeSyntheticDataset(opts: {
  dir: string;
  name: string;
  lengths: Int32Array;
  vocab_size: number;
  num_labels: number;
  seed: number;
}): string {
  if (opts.lengths.some((x) => x < 3))
    throw new RangeError('synthetic examples need at least 3 tokens ([CLS] x [SEP])');
  const a = synthArrays(opts.lengths, opts.vocab_size, opts.num_labels, opts.seed);
  const arrays: Array<[string, BigInt64Array | Int32Array, string]> = [
    ['offsets', a.offsets, 'int64'],
    ['input_ids', a.input_ids, 'int32'],
    ['lengths', a.lengths, 'int32'],
    ['head_pos', a.head_pos, 'int32'],
    ['tail_pos', a.tail_pos, 'int32'],
    ['labels', a.labels, 'int32'],
  ];
  const header = (start: number) => {
    const specs: Record<string, { dtype: string; offset: number; shape: number[] }> = {};
    let offset = start;
    for (const [name, arr, dtype] of arrays) {
      specs[name] = { dtype, offset, shape: [arr.length] };
      offset = align8(offset + arr.byteLength);
    }
    const json = {
      format: 'refit-ds',
      version: 1,
      n: opts.lengths.length,
      total_tokens: a.total,
      vocab_size: opts.vocab_size,
      max_seq_len: Math.max(...opts.lengths),
      arrays: specs,
      relations: Array.from({ length: opts.num_labels }, (_, i) => `r${i}`),
      content_hash: `synthetic-${opts.name}-${opts.seed}`,
      truncated: 0,
    };
    return { json, end: offset };
  };
  // The header's own length moves the arrays: lay out with a generous start, then pad the JSON to it.
  const first = Buffer.byteLength(JSON.stringify(header(0).json), 'utf8') + 64;
  const start = align8(12 + first);
  const { json, end } = header(start);
  const raw = JSON.stringify(json);
  if (Buffer.byteLength(raw, 'utf8') > start - 12)
    throw new Error('synthetic dataset header outgrew its slot');
  const text = raw.padEnd(start - 12, ' ');
  const buf = Buffer.alloc(end);
  buf.write('REFITDS1', 0, 'ascii');
  buf.writeUInt32LE(start - 12, 8);
  buf.write(text, 12, 'utf8');
  for (const [name, arr] of arrays)
    Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).copy(buf, json.arrays[name].offset);
  const file = join(opts.dir, `${opts.name}.refit-ds`);
  const tmp = `${file}.${randomUUID()}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, file);
  return file;
}

/** `n` lengths all equal to `len` (the grid and the worst-case scenario: no padding inside a batch). */
export function fixedLengths(n: number, len: number): Int32Array {
  return new Int32Array(n).fill(len);
}
