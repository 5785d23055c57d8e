// Small builders for encode tests: an Example from a sentence and its entity substrings, and the real datasets.
import path from 'node:path';
import type { Example } from '../../src/data/index.ts';
import { SHARED } from '../tokenize/helpers.ts';

export { SHARED, NEEDS_SHARED, ZH_VOCAB, EN_VOCAB } from '../tokenize/helpers.ts';

/** An example whose head/tail are the `nth` occurrence (default first) of the given substrings. */
export function example(
  text: string,
  head: string | [number, number],
  tail: string | [number, number],
  extra: Partial<Example> = {},
): Example {
  const span = (m: string | [number, number]): { text: string; start: number; end: number } => {
    if (Array.isArray(m)) return { text: text.slice(m[0], m[1]), start: m[0], end: m[1] };
    const start = text.indexOf(m);
    if (start < 0) throw new Error(`${m} not in ${text}`);
    return { text: m, start, end: start + m.length };
  };
  return { text, head: span(head), tail: span(tail), file: 'test.tsv', line: 1, ...extra };
}

/** A dataset file under ../shared/assets. */
export function asset(rel: string): string {
  return path.join(SHARED, 'assets', rel);
}
