// DeepKE standard-RE CSV reader (Python csv "excel" dialect): header row, quoted fields with commas and
// newlines, BOM and CRLF accepted. Each example's line is the physical line where its record starts.
import { DataError } from '../../errors.ts';
import type { Example } from '../types.ts';
import { parseCsvRecords } from './csv.ts';
import { checkDeepkeColumns, deepkeExample } from './deepke-row.ts';
import type { ReadOptions, Reader, SniffResult } from './reader.ts';
import { extensionOf, readText } from './text-file.ts';

/** Reads DeepKE `train.csv`-style files. */
export const deepkeCsvReader: Reader = Object.freeze({
  name: 'deepke-csv',
  sniff(path: string, head: string): SniffResult {
    const first = head
      .slice(0, head.indexOf('\n') >>> 0)
      .split(',')
      .map((s) => s.trim().replace(/^"|"$/g, ''));
    if (first.includes('sentence') && first.length >= 4)
      return { score: extensionOf(path) === 'csv' ? 4 : 3 };
    if (extensionOf(path) === 'csv') return { score: 1 };
    return { score: 0, why: 'first line is not a CSV header with a sentence column' };
  },
  read: readDeepkeCsv,
});

async function* readDeepkeCsv(path: string, opts: ReadOptions): AsyncIterable<Example> {
  const records = parseCsvRecords(path, opts.text ?? (await readText(path)));
  if (records.length === 0) throw new DataError('E_DATA_EMPTY', { path }, 'file is empty');
  const header = records[0].fields.map((h) => h.trim());
  checkDeepkeColumns({ path, line: records[0].line }, header);
  if (records.length < 2) throw new DataError('E_DATA_EMPTY', { path }, 'has a header but no data rows');
  for (const { fields, line } of records.slice(1)) {
    if (fields.length !== header.length) {
      opts.bad(line, `expected ${header.length} fields (${header.join(',')}), found ${fields.length}`);
      continue;
    }
    const rec: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) rec[header[i]] = fields[i];
    const example = deepkeExample({ rec, file: path, line, bad: (what) => opts.bad(line, what) });
    if (example) yield example;
  }
}
