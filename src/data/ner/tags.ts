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

/**
 * The ordered label names of an NER dataset (index = label id): `O` first, then `labels` (DeepKE's `labels:`
 * key) when given, else every tag seen sorted by type and then B, I, M, E, S. DeepKE's `[CLS]`/`[SEP]`/`X`
 * entries are not tags and are left out.
 */
export function nerLabelNames(opts: { tags: Iterable<string>; labels?: readonly string[] }): string[] {
  if (opts.labels) {
    const given = opts.labels.filter((l) => !['[CLS]', '[SEP]', 'X', 'O'].includes(l));
    return ['O', ...new Set(given)];
  }
  const seen = [...new Set(opts.tags)].filter((t) => t !== 'O');
  const key = (t: string) => parseTag(t) ?? { prefix: 'B', type: t };
  seen.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x.type !== y.type) return x.type < y.type ? -1 : 1;
    return PREFIX_ORDER.indexOf(x.prefix) - PREFIX_ORDER.indexOf(y.prefix);
  });
  return ['O', ...seen];
}
