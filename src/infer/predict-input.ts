// Prediction input files, read as a stream of rows in input order: JSON lines {text, head, tail, head_offset?,
// tail_offset?} (read line by line in constant memory; a row that cannot be read becomes an error row naming why),
// or any labelled data file (read whole, like training data; its bad records become error rows at their position).
// Offsets count code points (Python's str.index), as in data files.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DataError } from '../errors.ts';
import { extensionOf, parseJson, pickReader, readText } from '../data/index.ts';
import { utf16ToCodePoint } from '../offsets.ts';
import type { PredictItem } from './predict-item.ts';

/**
 * One input row: what to predict, or why it cannot be; `line` is the 1-based physical line it starts on (0:
 * not from a file).
 */
export type InputRow =
  { line: number; item: PredictItem } | { line: number; error: string; head?: string; tail?: string };

/** The longest JSON line read (bytes); a longer line becomes an error row without being held in memory. */
export const MAX_LINE_BYTES = 1 << 20;
/** How many non-blank lines are looked at to tell JSON lines from a labelled data file. */
const SNIFF_LINES = 64;

/** An input file opened for prediction: its kind and a fresh pass over its rows. */
export interface PredictInput {
  kind: 'jsonl' | 'labelled';
  format?: string;
  rows(): AsyncIterable<InputRow>;
}

/**
 * Opens `--input`: JSON lines unless `format` is given or the file looks like a labelled data file. Blank lines are
 * not rows (they get no output line). Throws a one-line DataError only when the file itself cannot be read.
 */
export async function openPredictInput(opts: { path: string; format?: string }): Promise<PredictInput> {
  const { path } = opts;
  await checkReadable(path);
  if (opts.format === undefined && (await looksLikeJsonLines(path)))
    return { kind: 'jsonl', rows: () => jsonLineRows(path) };
  const text = await readText(path);
  const reader = pickReader({ path, text, format: opts.format });
  return { kind: 'labelled', format: reader.name, rows: () => labelledRows(path, text, reader) };
}

async function checkReadable(path: string): Promise<void> {
  let size: number;
  try {
    const info = await stat(path);
    if (info.isDirectory())
      throw new DataError('E_DATA_FILE', { path }, 'is a folder, expected a prediction input file');
    size = info.size;
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(
      'E_DATA_FILE',
      { path },
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : `cannot read (${code ?? String(e)})`,
    );
  }
  if (size === 0) throw new DataError('E_DATA_EMPTY', { path }, 'file is empty');
}

/** Physical lines as bytes (CR before LF and a leading BOM dropped); a line over MAX_LINE_BYTES comes as null. */
async function* physicalLines(path: string): AsyncGenerator<{ line: number; bytes: Buffer | null }> {
  const stream = createReadStream(path, { highWaterMark: 1 << 16 });
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let line = 1;
  const finish = (): { line: number; bytes: Buffer | null } => {
    let bytes: Buffer | null = tooLong ? null : Buffer.concat(parts, size);
    if (bytes && bytes.length && bytes[bytes.length - 1] === 0x0d)
      bytes = bytes.subarray(0, bytes.length - 1);
    if (bytes && line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
      bytes = bytes.subarray(3);
    parts = [];
    size = 0;
    tooLong = false;
    return { line: line++, bytes };
  };
  const add = (chunk: Buffer) => {
    if (tooLong) return;
    if (size + chunk.length > MAX_LINE_BYTES) {
      tooLong = true;
      parts = [];
      size = 0;
      return;
    }
    if (chunk.length) {
      parts.push(Buffer.from(chunk));
      size += chunk.length;
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
        add(chunk.subarray(start, nl));
        yield finish();
        start = nl + 1;
      }
      add(chunk.subarray(start));
    }
    if (size > 0 || tooLong) yield finish();
  } finally {
    stream.destroy();
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A physical line's text, or why it has none. */
function lineText(bytes: Buffer | null): { text: string } | { error: string } {
  if (bytes === null) return { error: `line is longer than ${MAX_LINE_BYTES / (1 << 20)} MiB` };
  try {
    return { text: decoder.decode(bytes) };
  } catch {
    return { error: 'invalid UTF-8; save the file as UTF-8' };
  }
}

const ITEM_KEYS = ['text', 'head', 'tail'];
const LABELLED_KEYS = ['h', 't', 'token']; // OpenNRE's, whose text-mode records also have "text"

/**
 * True for JSON lines of prediction items: the first JSON object among the first non-blank lines has an item key
 * (text, head, tail) and none of OpenNRE's (h, t, token). When none of those lines is a JSON object, a `.jsonl` or
 * `.ndjson` file whose first line opens one still counts (its rows then get their own errors); anything else goes
 * to the data readers (FewRel's and DeepKE's JSON documents, CSV, TSV).
 */
async function looksLikeJsonLines(path: string): Promise<boolean> {
  let first: string | undefined;
  let seen = 0;
  for await (const { bytes } of physicalLines(path)) {
    const t = lineText(bytes);
    if (!('text' in t) || t.text.trim() === '') continue;
    first ??= t.text.trimStart();
    let v: unknown;
    try {
      v = JSON.parse(t.text);
    } catch {
      v = undefined;
    }
    if (isObject(v))
      return ITEM_KEYS.some((k) => Object.hasOwn(v, k)) && !LABELLED_KEYS.some((k) => Object.hasOwn(v, k));
    if (++seen >= SNIFF_LINES) break;
  }
  return first !== undefined && first.startsWith('{') && ['jsonl', 'ndjson'].includes(extensionOf(path));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function* jsonLineRows(path: string): AsyncGenerator<InputRow> {
  for await (const { line, bytes } of physicalLines(path)) {
    const t = lineText(bytes);
    if ('error' in t) {
      yield { line, error: t.error };
      continue;
    }
    if (t.text.trim() === '') continue; // blank lines are not rows
    yield itemRow(t.text, line);
  }
}

const describeType = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/** One JSON line → an item, or an error row with the reason (and head/tail when they could be read). */
export function itemRow(text: string, line: number): InputRow {
  const parsed = parseJson(text);
  if (!parsed.ok) return { line, error: `broken JSON at column ${parsed.column}: ${parsed.what}` };
  const o = parsed.value;
  if (!isObject(o))
    return { line, error: `expected a JSON object {"text", "head", "tail"}, got ${describeType(o)}` };
  const str = (f: string) => (Object.hasOwn(o, f) && typeof o[f] === 'string' ? (o[f] as string) : undefined);
  const names = { head: str('head'), tail: str('tail') };
  for (const f of ['text', 'head', 'tail']) {
    if (!Object.hasOwn(o, f) || o[f] === undefined)
      return { line, error: `field '${f}' is missing`, ...names };
    if (typeof o[f] !== 'string')
      return { line, error: `field '${f}' must be a string, got ${describeType(o[f])}`, ...names };
  }
  const item: PredictItem = { text: o.text as string, head: o.head as string, tail: o.tail as string };
  for (const f of ['head_offset', 'tail_offset'] as const) {
    const v = Object.hasOwn(o, f) ? o[f] : undefined;
    if (v === undefined || v === null) continue;
    if (!(Number.isInteger(v) && (v as number) >= 0)) {
      return {
        line,
        error: `field '${f}' must be a whole number ≥ 0 (a code-point offset), got ${JSON.stringify(v)}`,
        ...names,
      };
    }
    item[f] = v as number;
  }
  for (const f of ['head_type', 'tail_type'] as const) {
    const v = Object.hasOwn(o, f) ? o[f] : undefined;
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string')
      return { line, error: `field '${f}' must be a string, got ${describeType(v)}`, ...names };
    item[f] = v;
  }
  return { line, item };
}

async function* labelledRows(
  path: string,
  text: string,
  reader: ReturnType<typeof pickReader>,
): AsyncGenerator<InputRow> {
  // Readers report a bad record before yielding the records after it, so arrival order is file order.
  const bad: InputRow[] = [];
  for await (const ex of reader.read(path, {
    text,
    bad: (line, what) => bad.push({ line: line ?? 0, error: what }),
  })) {
    yield* bad.splice(0);
    // Training counts an offset that misses and uses the nearest occurrence; a row to predict says so instead.
    if (ex.offset_problem) {
      yield { line: ex.line, error: ex.offset_problem };
      continue;
    }
    yield {
      line: ex.line,
      item: {
        text: ex.text,
        head: ex.head.text,
        tail: ex.tail.text,
        head_offset: utf16ToCodePoint(ex.text, ex.head.start),
        tail_offset: utf16ToCodePoint(ex.text, ex.tail.start),
        ...(ex.head.type ? { head_type: ex.head.type } : {}),
        ...(ex.tail.type ? { tail_type: ex.tail.type } : {}),
      },
    };
  }
  yield* bad.splice(0);
}
