// The tag shapes an NER file may use and the scheme its tags make: `O`, or B-/I-/M-/E-/S- and a type. The
// scheme is detected from the prefixes present; BMES's M- and BIO/BIOES's I- in one file is a mixed scheme. Pure.
import type { TagScheme } from './types.ts';

/** A tag split into its prefix (`O` for outside) and entity type (`''` for O). */
export interface ParsedTag {
  prefix: 'O' | 'B' | 'I' | 'M' | 'E' | 'S';
  type: string;
}

const TAG_SHAPE = /^([BIMES])-(\S+)$/;

/** Splits a tag; null when it is neither `O` nor PREFIX-TYPE with a prefix of B, I, M, E or S. */
export function parseTag(tag: string): ParsedTag | null {
  if (tag === 'O') return { prefix: 'O', type: '' };
  const m = TAG_SHAPE.exec(tag);
  return m ? { prefix: m[1] as ParsedTag['prefix'], type: m[2] } : null;
}

/** True when `tag` has a shape parseTag accepts (used by the readers' sniffing). */
export function isTagShape(tag: string): boolean {
  return parseTag(tag) !== null;
}

/**
 * The scheme of a set of prefixes: M- → BMES, E-/S- → BIOES, else BIO; a string naming the clash when the
 * prefixes mix BMES's M- with I-.
 */
export function schemeOf(prefixes: ReadonlySet<string>): TagScheme | { clash: string } {
  if (prefixes.has('M') && prefixes.has('I')) return { clash: 'BMES (M-) and BIO/BIOES (I-)' };
  if (prefixes.has('M')) return 'BMES';
  if (prefixes.has('E') || prefixes.has('S')) return 'BIOES';
  return 'BIO';
}

const PREFIX_ORDER = 'BIMES';

/** Entries of a labels list that are not tags (DeepKE's label list carries them): left out. */
const NOT_TAGS = new Set(['[CLS]', '[SEP]', 'X', 'O']);

/**
 * The tags a labels list declares (DeepKE's `labels:` key): a tag (`B-PER`) as it is, and an entity type (`PER`, as
 * DeepKE's standard NER conf lists them) as its `B-` and `I-` tags, in the list's order (run_bert.py's label list);
 * `types` are the types so given, whose other prefixes (E-, S-, M-) a file may use too.
 */
export function declaredTags(labels: readonly string[]): { tags: string[]; types: Set<string> } {
  const tags: string[] = [];
  const types = new Set<string>();
  for (const l of labels) {
    if (NOT_TAGS.has(l)) continue;
    if (parseTag(l)) tags.push(l);
    else (types.add(l), tags.push(`B-${l}`, `I-${l}`));
  }
  return { tags: [...new Set(tags)], types };
}

/** True when `tag` is `O` or declared by the labels list (declaredTags): listed, or of a type listed bare. */
export function isDeclaredTag(declared: ReturnType<typeof declaredTags>, tag: string): boolean {
  if (tag === 'O' || declared.tags.includes(tag)) return true;
  const parsed = parseTag(tag);
  return !!parsed && declared.types.has(parsed.type);
}

/** Tags sorted by type, then B, I, M, E, S (a tag of no known shape counts as a B- of its own type). */
function byTypeThenPrefix(tags: string[]): string[] {
  const key = (t: string) => parseTag(t) ?? { prefix: 'B', type: t };
  return tags.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x.type !== y.type) return x.type < y.type ? -1 : 1;
    return PREFIX_ORDER.indexOf(x.prefix) - PREFIX_ORDER.indexOf(y.prefix);
  });
}

/**
 * The ordered label names of an NER dataset (index = label id): `O` first, then the tags `labels` declares
 * (declaredTags; each kept even when the data has none), then a declared type's other tags the data uses; without
 * `labels`, every tag seen sorted by type and then B, I, M, E, S.
 */
export function nerLabelNames(opts: { tags: Iterable<string>; labels?: readonly string[] }): string[] {
  const seen = [...new Set(opts.tags)].filter((t) => t !== 'O');
  if (opts.labels) {
    const declared = declaredTags(opts.labels);
    const more = seen.filter((t) => !declared.tags.includes(t) && isDeclaredTag(declared, t));
    return ['O', ...declared.tags, ...byTypeThenPrefix(more)];
  }
  return ['O', ...byTypeThenPrefix(seen)];
}
