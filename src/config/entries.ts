// Turns a YAML config file and `key=value` overrides into a flat list of (dotted key, value, where)
// entries, in the order they were written. Nested sections and dotted keys are both accepted.
import { readFileSync, statSync } from 'node:fs';
import { isMap, isPair, isScalar, LineCounter, parse, parseDocument, type Node, type YAMLMap } from 'yaml';
import { ConfigError } from '../errors.ts';
import type { Where } from './aliases.ts';

/** One written config value: the key as written (dotted for nested sections), its JS value and where. */
export interface Entry {
  key: string;
  value: unknown;
  where: Where;
  nested: boolean;
  /**
   * Why the value cannot be used (a Hydra `???`, an interpolation that does not resolve): an error only if
   * refit needs the key.
   */
  problem?: string;
}

/** Top-level keys whose mapping value holds `section.key` entries. */
export const SECTIONS: ReadonlySet<string> = new Set([
  'data',
  'model',
  'train',
  'memory',
  'predict',
  'export',
  'engine',
  'distributed',
]);

/** The largest config file read (bytes): real configs are a few KB; a bigger file is refused before it is parsed. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Checks a config file's size before anything reads it: over MAX_CONFIG_BYTES is one E_CONFIG_FILE line (exit 2). */
export function checkConfigSize(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (e) {
    throw new ConfigError(
      'E_CONFIG_FILE',
      `${file}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
  if (size > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      'E_CONFIG_FILE',
      `${file}: config file is ${(size / (1 << 20)).toFixed(1)} MiB; refit reads config files up to 1 MiB ` +
        `(is this the right file?)`,
    );
  }
}

/** A config file's text (BOM dropped), size-checked first; unreadable or too big is one E_CONFIG_FILE line. */
export function readConfigText(file: string): string {
  checkConfigSize(file);
  try {
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new ConfigError(
      'E_CONFIG_FILE',
      `${file}: cannot read config file (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    );
  }
}

/** Reads a YAML config file into entries; a syntax error is `FILE:LINE: YAML syntax error: …` (exit 2). */
export function readYamlEntries(file: string): Entry[] {
  const text = readConfigText(file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const line = lineCounter.linePos(err.pos[0]).line;
    throw new ConfigError(
      'E_CONFIG_YAML',
      `${file}:${line}: YAML syntax error: ${err.message.split('\n')[0]}`,
    );
  }
  const lineOf = (node: Node | null | undefined): number | undefined =>
    node?.range ? lineCounter.linePos(node.range[0]).line : undefined;
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return [];
  if (!isMap(root))
    throw new ConfigError(
      'E_CONFIG_YAML',
      `${file}:${lineOf(root) ?? 1}: a config file must be a mapping of keys to values`,
    );
  const entries: Entry[] = [];
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    const where = { file, line: lineOf(pair.key as Node) };
    const value = pair.value as Node | null;
    // an empty section
    if (SECTIONS.has(key) && (value === null || (isScalar(value) && value.value === null))) continue;
    if (SECTIONS.has(key) && isMap(value)) {
      sectionEntries({ prefix: key, map: value, file, lineOf, out: entries });
    } else {
      entries.push({ key, value: toJs(value), where, nested: false });
    }
  }
  return entries;
}

/** Entries of a section mapping; a mapping inside it (model: rnn: type: …) becomes dotted keys (model.rnn.type). */
function sectionEntries(o: {
  prefix: string;
  map: YAMLMap;
  file: string;
  lineOf: (n: Node | null | undefined) => number | undefined;
  out: Entry[];
}): void {
  for (const child of o.map.items) {
    if (!isPair(child)) continue;
    const key = `${o.prefix}.${String((child.key as { value?: unknown })?.value ?? child.key)}`;
    if (isMap(child.value)) sectionEntries({ ...o, prefix: key, map: child.value });
    else
      o.out.push({
        key,
        value: toJs(child.value as Node | null),
        where: { file: o.file, line: o.lineOf(child.key as Node) },
        nested: true,
      });
  }
}

/** Plain JS value of a YAML node (null for an empty value). */
function toJs(node: Node | null): unknown {
  if (node === null || node === undefined) return null;
  return node.toJSON();
}

/**
 * Parses one `key=value` override; the value is read as a YAML scalar (numbers, booleans, null, strings) or, as
 * Hydra reads `key=[a,b]`, a flow list of scalars.
 */
export function parseOverride(text: string): Entry {
  const eq = text.indexOf('=');
  if (eq <= 0) {
    throw new ConfigError(
      'E_CONFIG_OVERRIDE',
      `bad override '${text}': expected key=value (e.g. train.epochs=5)`,
    );
  }
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  return { key, value: scalarOf(raw), where: {}, nested: false };
}

/** A YAML scalar (or list of scalars) read of `raw`; anything else (a map, bad YAML) stays the raw string. */
function scalarOf(raw: string): unknown {
  const scalar = (v: unknown) => v === null || typeof v !== 'object';
  try {
    const v = parse(raw);
    if (Array.isArray(v) && v.every(scalar)) return v;
    return scalar(v) ? v : raw;
  } catch {
    return raw;
  }
}
