// The reader registry: one frozen map from format name to Reader. Add a format by adding a file and a line.
import { deepkeCsvReader } from './deepke-csv.ts';
import { deepkeJsonReader } from './deepke-json.ts';
import { fewrelReader } from './fewrel.ts';
import { opennreReader } from './opennre.ts';
import type { Reader } from './reader.ts';
import { semevalReader } from './semeval.ts';
import { thunlpReader } from './thunlp.ts';

export type { Reader, ReadOptions, SniffResult } from './reader.ts';
export { readText, splitLines, extensionOf } from './text-file.ts';
export { parseJson, parseJsonFile } from './json-scan.ts';

/** Every data format refit reads, by the name `data.format` uses; in sniff tie-break order. */
export const READERS: Readonly<Record<string, Reader>> = Object.freeze({
  'deepke-csv': deepkeCsvReader,
  'deepke-json': deepkeJsonReader,
  semeval: semevalReader,
  thunlp: thunlpReader,
  opennre: opennreReader,
  fewrel: fewrelReader,
});
