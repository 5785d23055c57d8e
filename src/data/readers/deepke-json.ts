// DeepKE records as one JSON array of objects with the CSV's keys (DeepKE's json2csv input; offsets may be
// strings). Each example's line is the line of its opening `{`.
import { DataError } from '../../errors.ts';
import type { Example } from '../types.ts';
import { checkDeepkeColumns, deepkeExample } from './deepke-row.ts';
import { objectLines, parseJsonFile } from './json-scan.ts';
import type { ReadOptions, Reader, SniffResult } from './reader.ts';
import { extensionOf, readText } from './text-file.ts';

/** Reads a DeepKE JSON array (`[{"sentence": …, "relation": …, "head": …, "head_offset": …}, …]`). */
export const deepkeJsonReader: Reader = Object.freeze({
  name: 'deepke-json',
  sniff(path: string, head: string): SniffResult {
    const t = head.trimStart();
    if (t.startsWith('[') && t.includes('"sentence"')) return { score: 3 };
    if (t.startsWith('[') && extensionOf(path) === 'json') return { score: 1 };
    return { score: 0, why: 'not a JSON array of {"sentence", …} records' };
  },
  read: readDeepkeJson,
});

async function* readDeepkeJson(path: string, opts: ReadOptions): AsyncIterable<Example> {
  const text = opts.text ?? (await readText(path));
  const records = parseJsonFile(path, text);
  if (!Array.isArray(records))
    throw new DataError('E_DATA_JSON', { path }, 'expected a JSON array of records');
  if (records.length === 0) throw new DataError('E_DATA_EMPTY', { path }, 'the JSON array has no records');
  const lines = objectLines(text, 1);
  const notObject = records.findIndex((r) => typeof r !== 'object' || r === null || Array.isArray(r));
  if (notObject >= 0)
    throw new DataError('E_DATA_JSON', { path }, `record ${notObject + 1} is not a JSON object`);
  checkDeepkeColumns({ path, line: lines[0] }, Object.keys(records[0] as object), 'the first record');
  for (let i = 0; i < records.length; i++) {
    const line = lines[i];
    const example = deepkeExample({
      rec: records[i] as Record<string, unknown>,
      file: path,
      line,
      bad: (what) => opts.bad(line, what),
    });
    if (example) yield example;
  }
}
