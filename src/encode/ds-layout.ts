// The byte layout every encoded dataset file shares (docs/encoded-dataset.md): magic, the JSON header's length,
// the header padded to 8 bytes, then little-endian arrays at the offsets the header gives; written atomically and
// read back into aligned typed arrays. Knows nothing of what the arrays mean (relations or NER).
import { randomBytes } from 'node:crypto';
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

/** The file's magic bytes and extension. */
export const DATASET_MAGIC = 'REFITDS1';
export const DATASET_EXT = '.refit-ds';

/** Where one array lies: dtype, byte offset from the start of the file, element count. */
export interface ArraySpec {
  dtype: 'int64' | 'int32';
  offset: number;
  shape: [number];
}

/** An array to lay out: int64 (BigInt64Array) or int32 (Int32Array). */
export type LayoutArray = BigInt64Array | Int32Array;

function align8(x: number): number {
  return Math.ceil(x / 8) * 8;
}

/**
 * Lays out the header and `arrays` (in the given order); `header(specs)` builds the header object around the
 * array specs, so its key order is the caller's. The header is padded with spaces so the first array starts
 * 8-byte aligned.
 */
export function buildDatasetFile(opts: {
  arrays: ReadonlyArray<[string, LayoutArray]>;
  header: (arrays: Record<string, ArraySpec>) => object;
}): Buffer {
  if (endianness() !== 'LE')
    throw new RefitError('E_ENDIAN', 'encoded datasets are little-endian; this machine is big-endian');
  let dataStart = 0;
  let json = '';
  let specs: Record<string, ArraySpec> = {};
  // Offsets live inside the header, so iterate until the header length (and thus the offsets) stop changing.
  for (;;) {
    let at = dataStart;
    specs = {};
    for (const [name, a] of opts.arrays) {
      specs[name] = { dtype: a instanceof BigInt64Array ? 'int64' : 'int32', offset: at, shape: [a.length] };
      at = align8(at + a.byteLength);
    }
    json = JSON.stringify(opts.header(specs));
    const need = align8(12 + Buffer.byteLength(json));
    if (need === dataStart) break;
    dataStart = need;
  }
  const [lastName, last] = opts.arrays[opts.arrays.length - 1];
  const size = specs[lastName].offset + last.byteLength;
  const buf = Buffer.alloc(size);
  buf.write(DATASET_MAGIC, 0, 'ascii');
  const headerBytes = dataStart - 12;
  buf.writeUInt32LE(headerBytes, 8);
  buf.write(json.padEnd(json.length + headerBytes - Buffer.byteLength(json), ' '), 12, 'utf8');
  for (const [name, src] of opts.arrays) {
    Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(buf, specs[name].offset);
  }
  return buf;
}

/** Writes `bytes` to a temporary name and renames it; a refusal of the cache folder is one line, exit 1. */
export function writeAtomic(file: string, bytes: Buffer): void {
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
export function cachedDatasetHeader<H extends { content_hash: string }>(
  file: string,
  hash: string,
): H | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const header = readDatasetHeader<H>(file);
    return header.content_hash === hash ? header : undefined;
  } catch {
    return undefined; // a damaged cache file is simply re-encoded
  }
}

/** The JSON header of an encoded dataset file (throws DataError when there is no magic or it is cut short). */
export function readDatasetHeader<H>(file: string): H {
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
    return JSON.parse(json.toString('utf8')) as H;
  } finally {
    closeSync(fd);
  }
}

/**
 * The header of an encoded dataset file for reading it: any failure to read is one DataError line, and a
 * format or version other than refit-ds 1 is refused.
 */
export function openDatasetHeader<H extends { format: string; version: number }>(file: string): H {
  let header: H;
  try {
    header = readDatasetHeader<H>(file);
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
  return header;
}

/** A typed-array constructor of the layout (BigInt64Array or Int32Array). */
type ArrayCtor<T> = { new (b: ArrayBuffer, o: number, l: number): T; BYTES_PER_ELEMENT: number };

/** The file's bytes copied once into an ArrayBuffer, and a typed view of each array (every view aligned). */
export function readDatasetArrays(
  file: string,
  specs: Record<string, ArraySpec>,
): <T>(name: string, Ctor: ArrayCtor<T>) => T {
  const raw = readFileSync(file);
  const ab = new ArrayBuffer(raw.byteLength);
  new Uint8Array(ab).set(raw);
  return <T>(name: string, Ctor: ArrayCtor<T>): T => {
    const spec = specs[name];
    if (spec.offset + spec.shape[0] * Ctor.BYTES_PER_ELEMENT > ab.byteLength)
      throw new DataError('E_DATASET_FILE', { path: file }, `array ${name} runs past the end of the file`);
    return new Ctor(ab, spec.offset, spec.shape[0]);
  };
}
