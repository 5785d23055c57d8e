// manifest.json: what a model folder, a checkpoint or a run folder must be to be what refit wrote. Each file's size
// and SHA-256, and the facts its files must agree on (the relation list in order, the vocabulary, the model's
// dimensions, the data files' fingerprints, the config's hash). Written after the files, checked before a model is
// loaded (predict, eval, serve, export, resume). Files are hashed by streaming, once per load (hashes are cached
// per file identity, so the several readers of one load hash nothing twice).
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { RefitError, fsError } from '../errors.ts';
import type { ModelDims } from '../memory/index.ts';
import { writeJsonAtomic } from './run-files.ts';

/** The manifest's file name, in the folder it describes. */
export const MANIFEST_FILE = 'manifest.json';

/** Bytes read per chunk while hashing. */
const HASH_CHUNK_BYTES = 4 * 2 ** 20;

/** Size and SHA-256 of one file. */
export interface FileFingerprint {
  size: number;
  sha256: string;
}

/** The relation list a model classifies into: its order is the classifier's rows. */
export interface RelationFacts {
  count: number;
  names: string[];
  na_label: string | null;
  /** SHA-256 of the names joined by newlines, in order. */
  sha256: string;
}

/** What every manifest may state beyond its files. */
export interface ManifestFacts {
  relations?: RelationFacts;
  vocab?: { size: number; sha256: string };
  dims?: ModelDims;
  /** Fingerprints of the run's data files, by split (train, valid, test, relations), with their paths. */
  data?: Record<string, FileFingerprint & { path: string }>;
  /** SHA-256 of config.yaml as refit wrote it. */
  config_sha256?: string;
  /** The run's resolved config as refit wrote it (run manifests): a hand edit of config.yaml is compared to it. */
  config?: unknown;
}

/** manifest.json. `files` lists every file of the folder but the manifest itself. */
export interface Manifest extends ManifestFacts {
  format: 'refit-manifest';
  version: 1;
  kind: 'model' | 'checkpoint' | 'run';
  files: Record<string, FileFingerprint>;
}

const hashCache = new Map<string, { key: string; sha256: string }>();

/**
 * SHA-256 (hex) of a file, read in chunks. Cached by the file's identity (device, inode, size, mtime, ctime), so a
 * file changed in any way since is hashed again.
 */
export function sha256File(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fsError(e, path) ?? e;
  }
  try {
    const st = statSync(path);
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const hit = hashCache.get(path);
    if (hit?.key === key) return hit.sha256;
    const h = createHash('sha256');
    const buf = Buffer.alloc(HASH_CHUNK_BYTES);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
    const sha256 = h.digest('hex');
    hashCache.set(path, { key, sha256 });
    return sha256;
  } finally {
    closeSync(fd);
  }
}

/** Size and SHA-256 of a file. */
export function fingerprint(path: string): FileFingerprint {
  return { size: statSync(path).size, sha256: sha256File(path) };
}

/** The relation facts of a list of names (its order is the classifier's). */
export function relationFacts(names: readonly string[], na_label: string | null): RelationFacts {
  return {
    count: names.length,
    names: [...names],
    na_label,
    sha256: createHash('sha256').update(names.join('\n')).digest('hex'),
  };
}

/** SHA-256 of a text (a config as written). */
export function sha256Text(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The files a manifest lists: the folder's plain files, not the manifest and not temporary (dot) files. */
function listedFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== MANIFEST_FILE && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/** Writes `<dir>/manifest.json` over the folder's files now and `facts`; returns it. */
export function writeManifest(dir: string, kind: Manifest['kind'], facts: ManifestFacts = {}): Manifest {
  const files: Record<string, FileFingerprint> = {};
  if (kind !== 'run') for (const f of listedFiles(dir)) files[f] = fingerprint(join(dir, f));
  const m: Manifest = { format: 'refit-manifest', version: 1, kind, files, ...facts };
  writeJsonAtomic(join(dir, MANIFEST_FILE), m);
  return m;
}

/** Re-fingerprints the files of a folder whose manifest exists (a file added or rewritten by refit itself). */
export function refreshManifest(dir: string): void {
  const m = readManifest(dir);
  if (!m) return;
  const { files: _old, format: _f, version: _v, kind, ...facts } = m;
  writeManifest(dir, kind, facts);
}

/** `<dir>/manifest.json`, or null when the folder has none; one that cannot be read is one line (E_MANIFEST). */
export function readManifest(dir: string): Manifest | null {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return null;
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (e) {
    throw new RefitError('E_MANIFEST', `${path}: not valid JSON (damaged); the folder cannot be verified`, {
      cause: e,
    });
  }
  if (m?.format !== 'refit-manifest' || typeof m.files !== 'object' || m.files === null)
    throw new RefitError('E_MANIFEST', `${path}: not a refit manifest; the folder cannot be verified`);
  return m;
}

/** Files that must be in the manifest when they are in a model folder: unlisted, they were copied in. */
const MODEL_FILES = [
  'refit.json',
  'config.json',
  'vocab.txt',
  'model.safetensors',
  'model.onnx',
  'model.int8.onnx',
  'checkpoint.pt',
];

const warned = new Set<string>();

/**
 * Checks a folder against its manifest: every listed file there with its size and SHA-256, no model file that the
 * manifest does not list. A mismatch throws E_MANIFEST naming the file and what differs. A folder without a
 * manifest (written by an older refit) is `warn`ed about once per process and passes. Returns the manifest.
 */
export function verifyFolder(
  dir: string,
  o: {
    what: string;
    warn?: (line: string) => void;
    /** How to get a folder whose files agree again, by file (`*`: any other file). */
    fix?: Readonly<Record<string, string>>;
    /** Files that may be gone (nothing reads a file that is not there: model.onnx, the torch engine answers). */
    optional?: readonly string[];
    /** Checks of the facts, first (they name what differs best): a line naming what differs, or null. */
    facts?: (m: Manifest) => { file: string; what: string } | null;
  },
): Manifest | null {
  const m = readManifest(dir);
  if (!m) {
    if (!warned.has(dir)) {
      warned.add(dir);
      const line =
        `${join(dir, MANIFEST_FILE)}: missing (written by an older refit); ` +
        `the ${o.what}'s files cannot be verified`;
      (o.warn ?? ((l: string) => process.stderr.write(`refit: warning: ${l}\n`)))(line);
    }
    return null;
  }
  const fixOf = (file: string) => o.fix?.[file] ?? o.fix?.['*'];
  const fail = (file: string, what: string) =>
    new RefitError('E_MANIFEST', `${join(dir, file)}: ${what}${fixOf(file) ? `; ${fixOf(file)}` : ''}`);
  const present = Object.entries(m.files).filter(
    ([file]) => !o.optional?.includes(file) || existsSync(join(dir, file)),
  );
  const differs = o.facts?.(m);
  if (differs) throw fail(differs.file, differs.what);
  for (const [file, want] of present) {
    const path = join(dir, file);
    if (!existsSync(path))
      throw fail(file, `missing (the ${o.what}'s manifest lists it, ${want.size} bytes)`);
    const size = statSync(path).size;
    if (size !== want.size)
      throw fail(
        file,
        `${size} bytes, the manifest says ${want.size} (${size < want.size ? 'truncated' : 'another file'})`,
      );
  }
  for (const file of MODEL_FILES)
    if (!(file in m.files) && existsSync(join(dir, file)))
      throw fail(file, `not in the ${o.what}'s manifest (copied in from elsewhere?)`);
  for (const [file, want] of present) {
    if (sha256File(join(dir, file)) !== want.sha256)
      throw fail(
        file,
        `its SHA-256 differs from the manifest's (changed since refit wrote it, or another run's file)`,
      );
  }
  return m;
}

/** Where two relation lists differ, in words ('' when they are the same list in the same order). */
export function relationDifference(
  want: readonly string[],
  got: readonly string[],
  whose = 'the run',
): string {
  if (want.length !== got.length) return `${got.length} relations, ${whose} has ${want.length}`;
  const i = want.findIndex((n, k) => n !== got[k]);
  if (i < 0) return '';
  const sameSet = [...want].sort().join('\n') === [...got].sort().join('\n');
  return sameSet
    ? `the relations are in another order (row ${i + 1} is '${got[i]}', ${whose} has '${want[i]}')`
    : `relation '${got[i]}' at row ${i + 1} where ${whose} has '${want[i]}'`;
}
