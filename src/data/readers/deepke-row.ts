// One DeepKE standard-RE record (`sentence,relation,head,head_offset,tail,tail_offset`) → Example, shared by
// the CSV and JSON readers. Offsets are honoured; types are never taken from relation.csv (DeepKE's label leak).
import { DataError } from '../../errors.ts';
import { didYouMean } from '../../suggest.ts';
import type { Example, Mention } from '../types.ts';
import { codePointLength, codePointToUtf16, locateMention, utf16ToCodePoint } from './locate.ts';

/**
 * Every column a DeepKE record may have. Offsets are optional (the first occurrence is used without them); so are
 * head_type/tail_type, which only a row itself can carry (relation.csv's types are never used: DeepKE's label leak).
 */
export const DEEPKE_COLUMNS: readonly string[] = Object.freeze([
  'sentence',
  'relation',
  'head',
  'head_offset',
  'tail',
  'tail_offset',
  'head_type',
  'tail_type',
]);
const REQUIRED_COLUMNS = ['sentence', 'relation', 'head', 'tail'];

/** Checks a header (or a record's keys): missing required columns, and unknown names close to a known one. */
export function checkDeepkeColumns(
  where: { path: string; line?: number },
  names: readonly string[],
  of = 'the header',
): void {
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new DataError('E_DATA_FIELD', where, `column '${twice}' appears twice`);
  const unknown = names.filter((n) => !DEEPKE_COLUMNS.includes(n));
  for (const col of REQUIRED_COLUMNS) {
    if (names.includes(col)) continue;
    const hint = didYouMean(col, unknown);
    const found = hint
      ? hint.replace(/^ \(did you mean '(.*)'\?\)$/, ` (found '$1'; rename it to '${col}')`)
      : ` (columns: ${names.join(', ')})`;
    throw new DataError('E_DATA_FIELD', where, `missing column '${col}'${found}`);
  }
  for (const name of unknown) {
    const hint = didYouMean(name, DEEPKE_COLUMNS);
    if (hint) throw new DataError('E_DATA_FIELD', where, `unknown column '${name}'${hint}`);
  }
  const half = halfPair(names);
  if (half)
    throw new DataError(
      'E_DATA_FIELD',
      where,
      `missing column '${half.missing}' (${of} has '${half.present}'; ${half.fix})`,
    );
}

/** Columns that only make sense together: with one of them alone, the other entity would silently lose it. */
const COLUMN_PAIRS: ReadonlyArray<readonly [string, string, string]> = [
  [
    'head_offset',
    'tail_offset',
    "give both offset columns, or neither to take each entity's first occurrence",
  ],
  ['head_type', 'tail_type', 'give both type columns, or neither'],
];

/** The first pair of COLUMN_PAIRS with only one column among `names`, or undefined. */
function halfPair(names: readonly string[]): { present: string; missing: string; fix: string } | undefined {
  for (const [a, b, fix] of COLUMN_PAIRS) {
    if (names.includes(a) !== names.includes(b))
      return names.includes(a) ? { present: a, missing: b, fix } : { present: b, missing: a, fix };
  }
  return undefined;
}

type Bad = (what: string) => void;

/** Builds the Example for one record (`line` = where it starts), or reports it through `bad` and returns null. */
export function deepkeExample(opts: {
  rec: Record<string, unknown>;
  file: string;
  line: number;
  bad: Bad;
}): Example | null {
  const { rec, file, line, bad } = opts;
  const text = asText(rec.sentence);
  const relation = asText(rec.relation);
  if (!text) {
    bad('sentence is missing or empty');
    return null;
  }
  if (!relation) {
    bad('relation is missing or empty');
    return null;
  }
  const head = mention({ role: 'head', rec, text, bad });
  if (!head) return null;
  const tail = mention({ role: 'tail', rec, text, bad });
  if (!tail) return null;
  // a JSON record may drop a key its file's first record has (a CSV row always has every header column)
  const half = halfPair(Object.keys(rec));
  if (half) {
    bad(`has '${half.present}' but no '${half.missing}' (${half.fix})`);
    return null;
  }
  const example: Example = { text, head: head.mention, tail: tail.mention, relation, file, line };
  if (head.fallback || tail.fallback) {
    example.offset_fallback = true;
    example.offset_problem = head.problem ?? tail.problem;
  }
  return example;
}

function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : String(v);
}

function mention(o: {
  role: 'head' | 'tail';
  rec: Record<string, unknown>;
  text: string;
  bad: Bad;
}): { mention: Mention; fallback: boolean; problem?: string } | null {
  const { role, rec, text, bad } = o;
  const entity = asText(rec[role]);
  if (!entity) {
    bad(`${role} is missing or empty`);
    return null;
  }
  const offset = parseOffset({ field: `${role}_offset`, value: rec[`${role}_offset`], text, bad });
  if (offset === null) return null;
  const at = offset === undefined ? undefined : codePointToUtf16(text, offset);
  const found = locateMention({ text, entity, at });
  if (!found) {
    bad(`${role} '${entity}' does not occur in the sentence`);
    return null;
  }
  const m: Mention = { text: entity, start: found.start, end: found.end };
  const type = asText(rec[`${role}_type`]).trim();
  if (type) m.type = type;
  if (!found.fallback) return { mention: m, fallback: false };
  // A count of UTF-16 units (JavaScript, Java) lands here after an emoji or an astral CJK character.
  const utf16 = offset !== undefined && text.startsWith(entity, offset);
  const hint = utf16
    ? ` (offsets count code points, as Python's str.index: it is at ${utf16ToCodePoint(text, offset)})`
    : '';
  return {
    mention: m,
    fallback: true,
    problem: `${role} '${entity}' is not at ${role}_offset ${offset}${hint}`,
  };
}

/** Parses an offset cell: undefined when absent or empty, null after reporting a bad value. */
function parseOffset(o: {
  field: string;
  value: unknown;
  text: string;
  bad: Bad;
}): number | undefined | null {
  const { field, value: v, text, bad } = o;
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v.trim() : String(v);
  if (s === '') return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(s)) {
    bad(`${field} '${s}' is not a number`);
    return null;
  }
  const n = Number(s);
  if (!Number.isInteger(n)) {
    bad(`${field} ${s} is not a whole number`);
    return null;
  }
  const length = codePointLength(text);
  if (n < 0 || n >= length) {
    bad(`${field} ${n} is outside the sentence (0..${length - 1})`);
    return null;
  }
  return n;
}
