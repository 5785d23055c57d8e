// A cheap check of a .safetensors file before a worker is started on it: the 8-byte header length, the JSON
// header, and every tensor's dtype, shape and byte range against the file's size. Reads the header only.
// (The worker's loader checks the same again: weights.py read_safetensors.)
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { RefitError, fsError } from '../errors.ts';

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/** A header larger than this is not a model's header (BERT-large's is ~40 KB). */
export const MAX_HEADER_BYTES = 100 * 2 ** 20;

function bad(path: string, what: string): RefitError {
  return new RefitError(
    'E_MODEL_FILES',
    `${path}: not a valid safetensors file: ${what} (re-save or re-download it)`,
  );
}

/** Throws E_MODEL_FILES (exit 2) naming `path` and what is wrong, unless it is a well-formed safetensors file. */
export function checkSafetensors(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fsError(e, path) ?? e;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw bad(path, `${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(size - 8))
      throw bad(
        path,
        `header length ${headerLen} is past the end of the ${size}-byte file (truncated or not safetensors)`,
      );
    if (headerLen > BigInt(MAX_HEADER_BYTES))
      throw bad(path, `header length ${headerLen} bytes is implausible`);
    const n = Number(headerLen);
    const head = Buffer.alloc(n);
    readSync(fd, head, 0, n, 8);
    let header: unknown;
    try {
      header = JSON.parse(head.toString('utf8'));
    } catch (e) {
      throw bad(path, `header is not valid JSON (${(e as Error).message.split('\n')[0].slice(0, 120)})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header))
      throw bad(path, 'header is not a JSON object');
    const dataSize = size - 8 - n;
    for (const [name, spec] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const s = spec as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (s === null || typeof s !== 'object') throw bad(path, `tensor ${name}: not an object`);
      const item = typeof s.dtype === 'string' ? SAFETENSORS_DTYPES[s.dtype] : undefined;
      if (!item) throw bad(path, `tensor ${name}: unknown dtype ${JSON.stringify(s.dtype)}`);
      if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= 0))
        throw bad(path, `tensor ${name}: shape ${JSON.stringify(s.shape)} is not a list of sizes`);
      const o = s.data_offsets;
      if (
        !Array.isArray(o) ||
        o.length !== 2 ||
        !o.every((x) => Number.isInteger(x) && x >= 0) ||
        o[0] > o[1]
      )
        throw bad(path, `tensor ${name}: data_offsets ${JSON.stringify(o)} are not [start, end]`);
      const numel = (s.shape as number[]).reduce((a, b) => a * b, 1);
      if (numel * item !== o[1] - o[0])
        throw bad(
          path,
          `tensor ${name}: shape ${JSON.stringify(s.shape)} × ${s.dtype} is ${numel * item} bytes but ` +
            `data_offsets span ${o[1] - o[0]}`,
        );
      if (o[1] > dataSize)
        throw bad(
          path,
          `tensor ${name} ends at byte ${o[1]} of a ${dataSize}-byte data section (the file is truncated)`,
        );
    }
  } finally {
    closeSync(fd);
  }
}

/** Checks the weights of a model folder when they are safetensors (a pytorch_model.bin is the worker's to read). */
export function checkModelWeights(dir: string): void {
  const st = `${dir.replace(/\/+$/, '')}/model.safetensors`;
  if (existsSync(st)) checkSafetensors(st);
}
