// A data folder: finds the train/valid/test files and the relation list in it by name. It reads no data.
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DataError } from '../errors.ts';
import { extensionOf } from './readers/index.ts';

const DATA_EXTENSIONS = ['csv', 'json', 'jsonl', 'tsv', 'txt'];
const SPLIT_WORDS: Readonly<Record<'train' | 'valid' | 'test', readonly string[]>> = Object.freeze({
  train: ['train', 'training'],
  valid: ['valid', 'val', 'dev', 'validation'],
  test: ['test', 'testing'],
});
/** Relation list names in preference order. */
const RELATION_FILES = [/^relation\.csv$/, /^relation2id\.txt$/, /(^|[_-])rel2id\.json$/, /^labels?\.txt$/];

/** The files of a data folder; each is a path joined onto the folder path. */
export interface DataFolder {
  train?: string;
  valid?: string;
  test?: string;
  relations?: string;
}

/** Finds train/valid/test (by a train|valid|val|dev|test word in the name) and the relation list in folder `path`. */
export async function resolveDataFolder(path: string): Promise<DataFolder> {
  const names = await listFolder(path);
  const folder: DataFolder = {};
  const relation = RELATION_FILES.map((re) => names.find((n) => re.test(n.toLowerCase()))).find(
    (n) => n !== undefined,
  );
  if (relation) folder.relations = join(path, relation);
  for (const split of ['train', 'valid', 'test'] as const) {
    const hits = names.filter((n) => n !== relation && isSplitFile(n, SPLIT_WORDS[split]));
    if (hits.length > 1) {
      throw new DataError(
        'E_DATA_FOLDER',
        { path },
        `several ${split} files (${hits.join(', ')}); pass the one you mean as a file`,
      );
    }
    if (hits.length === 1) folder[split] = join(path, hits[0]);
  }
  if (!folder.train && !folder.valid && !folder.test) {
    throw new DataError(
      'E_DATA_FOLDER',
      { path },
      'no train/valid/test data file (.csv .json .jsonl .tsv .txt) in this folder',
    );
  }
  return folder;
}

/** True for the file names of relation lists (relation.csv, relation2id.txt, *rel2id.json, label.txt). */
export function isRelationFileName(path: string): boolean {
  const name = basename(path).toLowerCase();
  return RELATION_FILES.some((re) => re.test(name));
}

function isSplitFile(name: string, words: readonly string[]): boolean {
  if (!DATA_EXTENSIONS.includes(extensionOf(name))) return false;
  const stem = name.toLowerCase().slice(0, name.lastIndexOf('.'));
  return stem.split(/[^a-z0-9]+/).some((w) => words.includes(w));
}

async function listFolder(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() || e.isSymbolicLink())
      .map((e) => e.name)
      .sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('E_DATA_FILE', { path }, 'no such file or folder');
    if (code === 'ENOTDIR') throw new DataError('E_DATA_FOLDER', { path }, 'is a file, expected a folder');
    throw new DataError('E_DATA_FILE', { path }, `cannot list (${code ?? String(e)})`);
  }
}

/** True when `path` is a folder (false for files and for paths that do not exist). */
export async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
