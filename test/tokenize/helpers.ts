// Paths of the shared datasets and golden files for the tokenize/encode tests, and a gzip JSONL reader.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/** The repository root (two folders above this file). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** ../shared next to the repository: datasets, vocabularies and golden outputs. */
export const SHARED = path.resolve(REPO_ROOT, '../shared');
/** Skip reason for tests that need ../shared, or false when it is there. */
export const NEEDS_SHARED: string | false = !existsSync(SHARED) && 'needs ../shared (datasets)';
/** The two BERT vocabularies. */
export const ZH_VOCAB = path.join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt');
export const EN_VOCAB = path.join(SHARED, 'assets/bert-vocab/google_uncased_en_vocab.txt');

/** Reads a .jsonl.gz file into objects. */
export function readJsonlGz<T>(file: string): T[] {
  return gunzipSync(readFileSync(file))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}
