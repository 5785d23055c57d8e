// A resumed run is the same run: `<run>/manifest.json` records what the run was started on (the relation list in
// order, each data file's size and SHA-256, config.yaml's hash and the config it resolves to), written whenever
// config.yaml is. `--resume` compares the run's inputs now with it: another relation order, other rows in a data
// file at the same path, or config.yaml edited by hand in a key the resume may not change are refused with one line
// naming what changed; `--force` continues anyway and the resume event records what it overrode.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CONFIG_KEYS, resolveConfig, type RunConfig } from '../config/index.ts';
import type { RelationSet } from '../data/types.ts';
import { RefitError } from '../errors.ts';
import {
  MANIFEST_FILE,
  fingerprint,
  readManifest,
  relationDifference,
  relationFacts,
  runPaths,
  sha256Text,
  writeManifest,
  type ManifestFacts,
} from '../session/index.ts';
import { RESUME_SAFE, configValue } from './resume-config.ts';

/** The files a run reads, by role: its splits, its relation list and its vocabulary. */
export type RunDataPaths = Partial<Record<'train' | 'valid' | 'test' | 'relations' | 'vocab', string>>;

/** Roles whose file may change on a resume (as data.test may): the test split is only evaluated after training. */
const RESUME_SAFE_DATA = new Set(['test']);

/** Fingerprints of the files a run reads (size, SHA-256 and path, by role). */
export function dataFingerprints(paths: RunDataPaths): NonNullable<ManifestFacts['data']> {
  const out: NonNullable<ManifestFacts['data']> = {};
  for (const [role, path] of Object.entries(paths))
    if (path && existsSync(path)) out[role] = { path, ...fingerprint(path) };
  return out;
}

/** Writes `<run>/manifest.json` for the config.yaml now in the run folder and the run's inputs. */
export function writeRunManifest(o: { run_dir: string; relations: RelationSet; data: RunDataPaths }): void {
  const config = runPaths(o.run_dir).config;
  writeManifest(o.run_dir, 'run', {
    relations: relationFacts(o.relations.names, o.relations.na_label),
    data: dataFingerprints(o.data),
    config_sha256: sha256Text(readFileSync(config, 'utf8')),
    config: resolveConfig({ file: config, overrides: [], warn: () => undefined }),
  });
}

/** The run-level facts a model folder or checkpoint of the run repeats in its own manifest (none for older runs). */
export function runFacts(run_dir: string): Pick<ManifestFacts, 'data' | 'config_sha256'> {
  const m = readManifest(run_dir);
  return m ? { data: m.data, config_sha256: m.config_sha256 } : {};
}

const more = (rest: string[]) => (rest.length ? ` (also ${rest.length} more: ${rest.join('; ')})` : '');
const show = (v: unknown): string =>
  v === undefined || v === null ? '(unset)' : typeof v === 'string' ? v : JSON.stringify(v);

/**
 * What a resume would change about the run, against its manifest: differences are refused (E_RESUME_DIFFERENT),
 * unless `force`, when they are returned to be recorded. Notes (a safe change, a run without a manifest) go to `note`.
 */
export function checkSameRun(o: {
  run_dir: string;
  relations: RelationSet;
  data: RunDataPaths;
  force: boolean;
  note: (line: string) => void;
}): string[] {
  const m = readManifest(o.run_dir);
  if (!m) {
    o.note(
      `${o.run_dir}/${MANIFEST_FILE}: missing (a run started by an older refit); its data and config.yaml ` +
        `cannot be checked on resume`,
    );
    return [];
  }
  const differs: string[] = [];
  const relationsFile = o.data.relations ?? m.data?.relations?.path;
  const d = m.relations ? relationDifference(m.relations.names, o.relations.names) : '';
  if (d) differs.push(`${relationsFile ? basename(relationsFile) : 'the relation list'}: ${d}`);
  for (const [role, was] of Object.entries(m.data ?? {})) {
    const path = o.data[role as keyof RunDataPaths];
    let what = '';
    if (!path || !existsSync(path)) what = `${basename(was.path)} (${role}): missing now (${was.path})`;
    else {
      const now = fingerprint(path);
      if (now.sha256 !== was.sha256)
        what =
          `${path} (${role}): other content than the run was started on (${now.size} bytes, ` +
          `was ${was.size}${now.size === was.size ? ', same size, other bytes' : ''})`;
    }
    if (!what) continue;
    if (role === 'relations' && m.relations) {
      // another list is said above; the same list in the same order from a rewritten file changes nothing
      if (!d) o.note(`${what}; allowed: the relation list and its order are the same`);
    } else if (RESUME_SAFE_DATA.has(role))
      o.note(`${what}; allowed: the test split is only evaluated after training`);
    else differs.push(what);
  }
  const yaml = runPaths(o.run_dir).config;
  if (m.config_sha256 && existsSync(yaml) && sha256Text(readFileSync(yaml, 'utf8')) !== m.config_sha256) {
    const edits = configEdits(m.config as RunConfig | undefined, yaml);
    if (edits.refused.length)
      differs.push(`config.yaml was edited by hand since refit wrote it: ${edits.refused.join(', ')}`);
    else
      o.note(
        `config.yaml was edited by hand since refit wrote it` +
          (edits.safe.length ? `: ${edits.safe.join(', ')} (safe on resume)` : ' (no setting changed)'),
      );
  }
  if (differs.length && !o.force)
    throw new RefitError(
      'E_RESUME_DIFFERENT',
      `--resume: ${differs[0]}${more(differs.slice(1))}; ` +
        `this is not the run in ${o.run_dir} any more — put its inputs back, start a new run (another --out), ` +
        `or add --force to resume anyway (recorded in events.jsonl)`,
    );
  return differs;
}

/** The keys a hand edit of config.yaml changed, against the config refit wrote: those a resume may change, and not. */
function configEdits(stored: RunConfig | undefined, yaml: string): { safe: string[]; refused: string[] } {
  if (!stored) return { safe: [], refused: ['(the stored config is missing from the manifest)'] };
  let now: RunConfig;
  try {
    now = resolveConfig({ file: yaml, overrides: [], warn: () => undefined });
  } catch (e) {
    return { safe: [], refused: [`it no longer resolves (${(e as Error).message.split('\n')[0]})`] };
  }
  const safe: string[] = [];
  const refused: string[] = [];
  for (const key of CONFIG_KEYS) {
    const from = configValue(stored, key);
    const to = configValue(now, key);
    if (JSON.stringify(from ?? null) === JSON.stringify(to ?? null)) continue;
    const ok = key in RESUME_SAFE && !(key === 'train.epochs' && Number(to) < Number(from));
    (ok ? safe : refused).push(`${key} ${show(from)} → ${show(to)}`);
  }
  return { safe, refused };
}
