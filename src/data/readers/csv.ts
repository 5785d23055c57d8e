// CSV parsing shared by the DeepKE and relation.csv readers: csv-parse in Python's "excel" dialect, plus the
// physical line where each record starts (a quoted multi-line record reports its first line).
import { parse } from 'csv-parse/sync';
import { DataError } from '../../errors.ts';

interface RawRecord {
  record: string[];
  raw: string;
}

/** One CSV record: its fields and the 1-based physical line where it starts; all-blank records are dropped. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/** Parses normalised (LF, no BOM) CSV text; an unterminated quote or other CSV damage throws a DataError. */
export function parseCsvRecords(path: string, text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let line = 0; // physical lines consumed so far; each raw record carries the blank lines skipped before it
  for (const { record, raw } of parseCsv(path, text)) {
    const start = line + 1 + leadingNewlines(raw);
    line += countNewlines(raw);
    if (record.every((f) => f.trim() === '')) continue;
    out.push({ fields: record, line: start });
  }
  return out;
}

function parseCsv(path: string, text: string): RawRecord[] {
  try {
    // relax_quotes: a quote inside an unquoted field is literal, as in Python's csv module
    return parse(text, {
      raw: true,
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as RawRecord[];
  } catch (e) {
    const err = e as { code?: string; lines?: number; message?: string };
    if (err.code === 'CSV_QUOTE_NOT_CLOSED') {
      throw new DataError(
        'E_DATA_QUOTE',
        { path, line: unclosedQuoteLine(text) },
        'unterminated quote: this quoted field never closes',
      );
    }
    throw new DataError(
      'E_DATA_CSV',
      { path, line: err.lines },
      `malformed CSV (${(err.message ?? String(e)).split('\n')[0]})`,
    );
  }
}

/** The line where the quoted field that never closes was opened (excel dialect: a quote opens only at field start). */
export function unclosedQuoteLine(text: string): number {
  let line = 1;
  let quoteLine = 0;
  let inQuote = false;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '"') {
        if (text[i + 1] === '"') i++;
        else inQuote = false;
      } else if (c === '\n') line++;
      continue;
    }
    if (c === '"' && fieldStart) {
      inQuote = true;
      quoteLine = line;
    }
    if (c === '\n') line++;
    fieldStart = c === ',' || c === '\n';
  }
  return inQuote ? quoteLine : line;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function leadingNewlines(s: string): number {
  let n = 0;
  while (s[n] === '\n') n++;
  return n;
}
