// Reading a Hydra conf folder's files: one YAML file's own keys (with lines), its `defaults:` list in the Hydra 1.0
// and 1.1 forms, its `# @package` line, and where a config or group option lives in conf/. Composes nothing.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair } from 'yaml';
import { ConfigError } from '../errors.ts';
import { readConfigText } from './entries.ts';

/** One parsed config file: its own keys (values as JS, with lines), its defaults list, its line lookup. */
export interface ConfFile {
  path: string;
  own: Array<{ key: string; value: unknown; line?: number }>;
  defaults?: DefaultEntry[];
  /** `# @package X` when the file says so */
  pkg?: { name: string; line: number };
}

/** One defaults-list entry. */
export type DefaultEntry =
  | { kind: 'self'; line?: number }
  | { kind: 'config'; name: string; optional: boolean; line?: number }
  | {
      kind: 'group';
      group: string;
      option: string | null;
      optional: boolean;
      override: boolean;
      line?: number;
    };

/**
 * Groups under `hydra/` that DeepKE's runs do read: its standard NER keeps the model's settings in
 * conf/hydra/model/bert.yaml (`- hydra/model: bert`), merged at the root like every other file.
 */
const READ_HYDRA_GROUPS: ReadonlySet<string> = new Set(['hydra/model']);

/** True for Hydra's own bookkeeping group (`hydra`, `hydra/…` but hydra/model), which DeepKE's runs never read. */
export function isHydraGroup(name: string): boolean {
  const n = name.replace(/^\//, '');
  return !READ_HYDRA_GROUPS.has(n) && (n === 'hydra' || n.startsWith('hydra/'));
}

/** The file of config `name` in `dir`: name.yaml, else name.yml when only that exists. */
export function confPath(dir: string, name: string): string {
  const rel = name.replace(/^\//, '');
  const yaml = join(dir, `${rel}.yaml`);
  return existsSync(yaml) || !existsSync(join(dir, `${rel}.yml`)) ? yaml : join(dir, `${rel}.yml`);
}

/** The options of a config group: its folder's YAML files, sorted. */
export function optionsOf(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => f.replace(/\.ya?ml$/, ''))
      .sort();
  } catch {
    return [];
  }
}

/** Reads one conf file: its own keys with lines, its defaults list, its `# @package` line. */
export function readConfFile(path: string): ConfFile {
  const text = readConfigText(path);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    throw new ConfigError(
      'E_CONFIG_YAML',
      `${path}:${lineCounter.linePos(err.pos[0]).line}: YAML syntax error: ${err.message.split('\n')[0]}`,
    );
  }
  const lineOf = (node: unknown): number | undefined => {
    const range = (node as Node | null)?.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const file: ConfFile = { path, own: [] };
  const pkgLine = text.split('\n').findIndex((l) => /^#\s*@package\s+\S+/.test(l));
  if (pkgLine >= 0)
    file.pkg = {
      name: text
        .split('\n')
        [pkgLine].replace(/^#\s*@package\s+/, '')
        .trim(),
      line: pkgLine + 1,
    };
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return file;
  if (!isMap(root))
    throw new ConfigError(
      'E_CONFIG_YAML',
      `${path}:${lineOf(root) ?? 1}: a config file must be a mapping of keys to values`,
    );
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (key === 'defaults') file.defaults = readDefaults(pair, path, lineOf);
    else
      file.own.push({ key, value: (pair.value as Node | null)?.toJSON?.() ?? null, line: lineOf(pair.key) });
  }
  return file;
}

/** Parses a `defaults:` list (the Hydra 1.0 and 1.1 entry forms). */
function readDefaults(pair: Pair, path: string, lineOf: (n: unknown) => number | undefined): DefaultEntry[] {
  const seq = pair.value;
  if (seq === null || (isScalar(seq) && seq.value === null)) return [];
  if (!isSeq(seq))
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${path}:${lineOf(pair.key)}: defaults must be a list (- name, - group: option)`,
    );
  const out: DefaultEntry[] = [];
  for (const item of seq.items) {
    const line = lineOf(item);
    const bad = (what: string) =>
      new ConfigError(
        'E_CONFIG_HYDRA',
        `${path}:${line}: bad defaults entry (${what}); expected - name, - group: option or - _self_`,
      );
    if (isScalar(item)) {
      const text = String(item.value).trim();
      if (text === '_self_') {
        out.push({ kind: 'self', line });
        continue;
      }
      const optional = /^optional\s+/.test(text);
      out.push({
        kind: 'config',
        name: stripPackage(text.replace(/^optional\s+/, ''), path, line),
        optional,
        line,
      });
      continue;
    }
    if (!isMap(item)) throw bad('not a name or a mapping');
    let optional = false;
    let group: { key: string; option: unknown } | undefined;
    for (const p of item.items) {
      const key = String((p.key as { value?: unknown })?.value ?? p.key).trim();
      const value = (p.value as Node | null)?.toJSON?.() ?? null;
      if (key === 'optional' && typeof value === 'boolean')
        optional = value; // Hydra 1.0: `optional: true` beside the group
      else if (group) throw bad('more than one group in one entry');
      else group = { key, option: value };
    }
    if (!group) throw bad('no group');
    if (Array.isArray(group.option)) throw bad(`${group.key}: a list of options is not supported`);
    if (group.option !== null && typeof group.option === 'object')
      throw bad(`${group.key}: the option must be a name`);
    const words = group.key.split(/\s+/);
    const name = stripPackage(words[words.length - 1], path, line);
    out.push({
      kind: 'group',
      group: name.replace(/^\//, ''),
      option: group.option === null ? null : String(group.option),
      optional: optional || words.includes('optional'),
      override: words.includes('override'),
      line,
    });
  }
  return out;
}

/** `group@package`: only the global package (DeepKE's flat namespace) is supported. */
function stripPackage(name: string, path: string, line: number | undefined): string {
  const at = name.indexOf('@');
  if (at < 0) return name;
  const pkg = name.slice(at + 1);
  if (pkg !== '_global_' && pkg !== '_here_') {
    throw new ConfigError(
      'E_CONFIG_HYDRA',
      `${path}:${line}: '${name}': a package (@${pkg}) is not supported: DeepKE's conf files are merged ` +
        `into one flat namespace`,
    );
  }
  return name.slice(0, at);
}
