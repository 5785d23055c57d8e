// Relation lists: relation.csv (DeepKE), relation2id.txt (THUNLP, space or TAB), rel2id.json (OpenNRE) and
// label.txt (one name per line). Duplicate names and index gaps are errors; entity types are ignored on purpose.
import { DataError, MultiError } from '../errors.ts';
import type { Example, RelationSet } from './types.ts';
import { parseCsvRecords } from './readers/csv.ts';
import { extensionOf, parseJsonFile, readText, splitLines } from './readers/index.ts';
import { lineOfOffset } from './readers/text-file.ts';
import { didYouMean } from '../suggest.ts';
import { setOwn } from '../own.ts';

/** NA label spellings, in priority order; matched exactly first, then case-insensitively. */
export const NA_LABELS: readonly string[] = Object.freeze(['None', 'Other', 'unknown', 'NA', 'no_relation']);
const MAX_PROBLEMS = 5;

interface Entry {
  name: string;
  index: number;
  line?: number;
}

/** The NA ("no relation") label among `names`, or null when none of the usual spellings is present. */
export function detectNaLabel(names: string[]): string | null {
  for (const na of NA_LABELS) if (names.includes(na)) return na;
  const lower = new Map(names.map((n) => [n.toLowerCase(), n]));
  for (const na of NA_LABELS) {
    const hit = lower.get(na.toLowerCase());
    if (hit !== undefined) return hit;
  }
  return null;
}

/** A relation set from the labels seen in `examples`: the NA label (given or detected) first, then the rest sorted. */
export function relationSetFromExamples(examples: Example[], na_label?: string): RelationSet {
  const seen = new Set<string>();
  for (const e of examples) if (e.relation !== undefined) seen.add(e.relation);
  const na = na_label ?? detectNaLabel([...seen]);
  const rest = [...seen].filter((n) => n !== na).sort();
  return { names: na === null ? rest : [na, ...rest], na_label: na };
}

/** Reads a relation list file and checks it: names unique, indices exactly 0..N-1. */
export async function readRelations(path: string): Promise<RelationSet> {
  const text = await readText(path);
  const ext = extensionOf(path);
  const entries =
    ext === 'csv' ? fromCsv(path, text) : ext === 'json' ? fromJson(path, text) : fromTxt(path, text);
  if (entries.length === 0) throw new DataError('E_DATA_EMPTY', { path }, 'lists no relations');
  const names = checkEntries(path, entries);
  return { names, na_label: detectNaLabel(names) };
}

/**
 * relation.csv's head_type/tail_type by relation name, which only DeepKE's LM input uses (the deepke-lm head puts
 * the gold relation's types into the text, as DeepKE does; refit reports that this leaks the label). Undefined when
 * the file is not a CSV or has no such columns; relations with an empty type are left out.
 */
export async function readRelationTypes(
  path: string,
): Promise<Record<string, { head_type: string; tail_type: string }> | undefined> {
  if (extensionOf(path) !== 'csv') return undefined;
  const records = parseCsvRecords(path, await readText(path));
  const header = records[0]?.fields.map((h) => h.trim()) ?? [];
  const [r, h, t] = ['relation', 'head_type', 'tail_type'].map((c) => header.indexOf(c));
  if (r < 0 || h < 0 || t < 0) return undefined;
  const out: Record<string, { head_type: string; tail_type: string }> = {};
  for (const { fields } of records.slice(1)) {
    const [name, head_type, tail_type] = [fields[r], fields[h], fields[t]].map((f) => (f ?? '').trim());
    if (name && head_type && tail_type) setOwn(out, name, { head_type, tail_type });
  }
  return out;
}

function fromCsv(path: string, text: string): Entry[] {
  const records = parseCsvRecords(path, text);
  const header = records[0].fields.map((h) => h.trim());
  for (const col of ['relation', 'index']) {
    if (!header.includes(col)) {
      throw new DataError(
        'E_DATA_FIELD',
        { path, line: records[0].line },
        `missing column '${col}'${didYouMean(col, header)} (relation.csv needs head_type,tail_type,relation,index)`,
      );
    }
  }
  if (header.includes('head_type') !== header.includes('tail_type')) {
    const [present, missing] = header.includes('head_type')
      ? ['head_type', 'tail_type']
      : ['tail_type', 'head_type'];
    throw new DataError(
      'E_DATA_FIELD',
      { path, line: records[0].line },
      `missing column '${missing}' (the header has '${present}'; relation.csv is ` +
        `head_type,tail_type,relation,index, or relation,index without types)`,
    );
  }
  const r = header.indexOf('relation');
  const x = header.indexOf('index');
  if (records.length < 2) throw new DataError('E_DATA_EMPTY', { path }, 'has a header but no relations');
  return records.slice(1).map(({ fields, line }) => ({
    name: (fields[r] ?? '').trim(),
    index: parseIndex({ path, line, value: fields[x] }),
    line,
  }));
}

function fromJson(path: string, text: string): Entry[] {
  const v = parseJsonFile(path, text);
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new DataError('E_DATA_JSON', { path }, 'expected a JSON object {"relation": id, …}');
  return Object.entries(v).map(([name, id]) => {
    const line = keyLine(text, name);
    return { name, index: parseIndex({ path, line, value: id, name }), line };
  });
}

/** relation2id.txt (`name id`, space or TAB) when every line ends in a number, else label.txt (one name a line). */
function fromTxt(path: string, text: string): Entry[] {
  const lines = splitLines(text)
    .map((l, i) => ({ l: l.trim(), line: i + 1 }))
    .filter((x) => x.l !== '');
  const withId = lines.every((x) => /[ \t]+-?\d+$/.test(x.l));
  return lines.map(({ l, line }, i) => {
    if (!withId) return { name: l, index: i, line };
    const m = /^(.*?)[ \t]+(-?\d+)$/.exec(l)!;
    return { name: m[1].trim(), index: parseIndex({ path, line, value: m[2] }), line };
  });
}

/**
 * The line of `"name":` in a JSON object's text (its first occurrence as a key), or undefined when it is
 * written otherwise.
 */
function keyLine(text: string, name: string): number | undefined {
  const quoted = JSON.stringify(name);
  for (let at = text.indexOf(quoted); at >= 0; at = text.indexOf(quoted, at + 1)) {
    if (/^\s*:/.test(text.slice(at + quoted.length, at + quoted.length + 80))) return lineOfOffset(text, at);
  }
  return undefined;
}

function parseIndex(o: { path: string; line?: number; value: unknown; name?: string }): number {
  const { path, line, value: v, name } = o;
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  if (!/^\d+$/.test(s)) {
    throw new DataError(
      'E_DATA_RELATIONS',
      { path, line },
      `index ${JSON.stringify(v ?? '')}${name ? ` of '${name}'` : ''} is not a whole number ≥ 0`,
    );
  }
  return Number(s);
}

/** Checks names and indices, collecting up to MAX_PROBLEMS; returns the names in index order. */
function checkEntries(path: string, entries: Entry[]): string[] {
  const problems: string[] = [];
  const where = (line?: number) => `${path}${line !== undefined ? `:${line}` : ''}`;
  const byName = new Map<string, Entry>();
  const byIndex = new Map<number, Entry>();
  for (const e of entries) {
    if (e.name === '') problems.push(`${where(e.line)}: relation name is empty`);
    const dup = byName.get(e.name);
    if (dup && e.name !== '')
      problems.push(
        `${where(e.line)}: relation '${e.name}' is listed twice` +
          `${dup.line ? ` (first at line ${dup.line})` : ''}; names must be unique`,
      );
    const clash = byIndex.get(e.index);
    if (clash) problems.push(`${where(e.line)}: index ${e.index} is used twice (also by '${clash.name}')`);
    byName.set(e.name, dup ?? e);
    byIndex.set(e.index, clash ?? e);
  }
  const missing: number[] = [];
  for (let i = 0; i < entries.length && missing.length < 3; i++) if (!byIndex.has(i)) missing.push(i);
  if (problems.length === 0 && missing.length > 0) {
    // the gap shows at the relation with the smallest index above the first missing one
    const after = entries.filter((e) => e.index > missing[0]).reduce((a, b) => (b.index < a.index ? b : a));
    problems.push(
      `${where(after.line)}: index ${after.index} of '${after.name}' leaves a gap: no relation has index ` +
        `${missing[0]}` +
        ` (indices must be 0..${entries.length - 1} without gaps; missing ${missing.join(', ')})`,
    );
  }
  if (problems.length > 0) throw new MultiError('E_DATA_RELATIONS', problems.slice(0, MAX_PROBLEMS));
  return [...entries].sort((a, b) => a.index - b.index).map((e) => e.name);
}
