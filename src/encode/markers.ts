// Entity marker schemes: which vocabulary tokens open and close the head and the tail, plain or typed.
// Prefers BERT's reserved [unusedN] tokens (no new embeddings); otherwise marker strings that must be added
// to the vocab.
import { RefitError } from '../errors.ts';
import type { Example } from '../data/index.ts';
import type { Vocab } from '../tokenize/index.ts';
import { setOwn } from '../own.ts';

/**
 * The four marker tokens around head and tail. A typed scheme (`typed: true`) also has per-type start markers in
 * `types`; an entity whose type is absent or unknown uses the plain start marker. End markers are never typed.
 */
export interface MarkerScheme {
  head_start: string;
  head_end: string;
  tail_start: string;
  tail_end: string;
  typed: boolean;
  types?: Record<string, { head_start: string; tail_start: string }>;
}

/** Marker strings used when the vocabulary has no [unused1]…[unused4] (they are appended to the vocab). */
export const FALLBACK_MARKERS = Object.freeze({
  head_start: '[E1]',
  head_end: '[/E1]',
  tail_start: '[E2]',
  tail_end: '[/E2]',
});

/** Marker ids of one scheme, resolved against a vocabulary. */
export interface MarkerIds {
  head_start: number;
  head_end: number;
  tail_start: number;
  tail_end: number;
  types: Map<string, { head_start: number; tail_start: number }>;
}

/**
 * The default scheme for `vocab`: [unused1] [unused2] around the head, [unused3] [unused4] around the tail.
 * Typed: the k-th type (in `types` order) opens a head with [unused{5+2k}] and a tail with [unused{6+2k}];
 * when the vocab lacks those, `<S:TYPE>` / `<O:TYPE>` strings are used (add them with `addMarkersToVocab`).
 */
export function defaultMarkers(vocab: Vocab, opts: { typed: boolean; types?: string[] }): MarkerScheme {
  const unused = (k: number): string => `[unused${k}]`;
  const hasUnused = [1, 2, 3, 4].every((k) => vocab.id(unused(k)) !== undefined);
  const base = hasUnused
    ? { head_start: unused(1), head_end: unused(2), tail_start: unused(3), tail_end: unused(4) }
    : { ...FALLBACK_MARKERS };
  if (!opts.typed) return { ...base, typed: false };
  const names = [...new Set(opts.types ?? [])].sort();
  const typedUnused = names.every(
    (_, k) => vocab.id(unused(5 + 2 * k)) !== undefined && vocab.id(unused(6 + 2 * k)) !== undefined,
  );
  const types: Record<string, { head_start: string; tail_start: string }> = {};
  names.forEach((t, k) => {
    setOwn(
      types,
      t,
      typedUnused
        ? { head_start: unused(5 + 2 * k), tail_start: unused(6 + 2 * k) }
        : { head_start: `<S:${t}>`, tail_start: `<O:${t}>` },
    );
  });
  return { ...base, typed: true, types };
}

/** The entity types present in `examples` (head and tail), sorted; empty when the data has none. */
export function entityTypes(examples: readonly Example[]): string[] {
  const set = new Set<string>();
  for (const ex of examples) {
    if (ex.head.type) set.add(ex.head.type);
    if (ex.tail.type) set.add(ex.tail.type);
  }
  return [...set].sort();
}

/** Every marker string of a scheme, plain first. */
export function markerStrings(scheme: MarkerScheme): string[] {
  const typed = Object.values(scheme.types ?? {}).flatMap((t) => [t.head_start, t.tail_start]);
  return [scheme.head_start, scheme.head_end, scheme.tail_start, scheme.tail_end, ...typed];
}

/** `vocab` with the scheme's marker strings it lacks appended (the model then needs that many more embedding rows). */
export function addMarkersToVocab(vocab: Vocab, scheme: MarkerScheme): Vocab {
  return vocab.withAdded(markerStrings(scheme));
}

/** Resolves the scheme's markers to ids; a marker missing from the vocab is a RefitError saying how to fix it. */
export function resolveMarkerIds(vocab: Vocab, scheme: MarkerScheme): MarkerIds {
  const id = (token: string): number => {
    const v = vocab.id(token);
    if (v === undefined) {
      throw new RefitError(
        'E_MARKER_VOCAB',
        `entity marker ${token} is not in the vocabulary${vocab.path ? ` ${vocab.path}` : ''}; ` +
          'add the markers to the vocabulary (addMarkersToVocab) or use a vocab with [unused1]..[unused4]',
      );
    }
    return v;
  };
  const types = new Map<string, { head_start: number; tail_start: number }>();
  for (const [name, t] of Object.entries(scheme.typed ? (scheme.types ?? {}) : {}))
    types.set(name, { head_start: id(t.head_start), tail_start: id(t.tail_start) });
  return {
    head_start: id(scheme.head_start),
    head_end: id(scheme.head_end),
    tail_start: id(scheme.tail_start),
    tail_end: id(scheme.tail_end),
    types,
  };
}
