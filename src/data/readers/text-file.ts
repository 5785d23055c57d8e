// Reads a data file as text: missing file, empty file, binary garbage and invalid UTF-8 become one-line
// DataErrors naming the line. A UTF-8 BOM is dropped and CRLF line ends are normalised to LF.
import { readFile, stat } from 'node:fs/promises';
import { DataError } from '../../errors.ts';

const NUL = 0x00;
const LF = 0x0a;

/** Reads `path` as UTF-8 text with the BOM removed and CRLF turned into LF; throws DataError on unreadable input. */
export async function readText(path: string): Promise<string> {
  const bytes = await readBytes(path);
  if (bytes.length === 0) throw new DataError('E_DATA_EMPTY', { path }, 'file is empty');
  const nul = bytes.indexOf(NUL);
  if (nul >= 0) {
    throw new DataError(
      'E_DATA_BINARY',
      { path, line: lineOfByte(bytes, nul) },
      'binary data (NUL byte); this is not a text data file',
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = findInvalidUtf8(bytes);
    throw new DataError(
      'E_DATA_ENCODING',
      { path, line: bad.line },
      `invalid UTF-8 (byte 0x${bad.byte.toString(16).padStart(2, '0')}); save the file as UTF-8`,
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\r')) text = text.replace(/\r\n/g, '\n');
  if (text.trim() === '') throw new DataError('E_DATA_EMPTY', { path }, 'file is empty (only whitespace)');
  return text;
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new DataError('E_DATA_FILE', { path }, 'is a folder, expected a data file');
    return await readFile(path);
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('E_DATA_FILE', { path }, 'no such file');
    if (code === 'EACCES') throw new DataError('E_DATA_FILE', { path }, 'permission denied');
    throw new DataError('E_DATA_FILE', { path }, `cannot read (${code ?? String(e)})`);
  }
}

/** The 1-based physical line holding byte `index`. */
function lineOfByte(bytes: Uint8Array, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (bytes[i] === LF) line++;
  return line;
}

/** Finds the first byte that breaks UTF-8 by decoding line by line (only runs on failure). */
function findInvalidUtf8(bytes: Buffer): { line: number; byte: number } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(LF, start);
    if (end < 0) end = bytes.length;
    const slice = bytes.subarray(start, end);
    try {
      decoder.decode(slice);
    } catch {
      return { line, byte: firstBadByte(slice) };
    }
    start = end + 1;
  }
  return { line: 1, byte: bytes[0] };
}

function firstBadByte(slice: Uint8Array): number {
  // stream mode accepts a sequence cut at the end of the prefix, so the first throw is at the bad byte
  for (let i = 1; i <= slice.length; i++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(slice.subarray(0, i), { stream: true });
    } catch {
      return slice[i - 1];
    }
  }
  return slice[slice.length - 1];
}

/** Splits normalised text into physical lines (index + 1 = line number); a final newline adds no line. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The 1-based line of character `offset` in `text`. */
export function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** The file extension in lower case, without the dot (`''` when none). */
export function extensionOf(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}
