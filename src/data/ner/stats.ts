// Figures of a read NER file for `refit data stats`: sentences, tokens, entities per type, irregular starts
// (entities seqeval reads from an I-/E-/M- start), duplicates, train overlap and, given a sub-token counter,
// lengths in WordPiece tokens. Pure: no I/O.
import { summarize, type LengthSummary, type TokenSummary } from '../stats.ts';
import type { NerFile } from './types.ts';

/** One NER file's figures, in the order the JSON shows them. */
export interface NerFileStats {
  path: string;
  format: string;
  scheme: string;
  sentences: number;
  skipped_rows: number;
  tokens: LengthSummary;
  /** Sentence lengths in WordPiece tokens with [CLS] and [SEP], when a vocab was given. */
  subtokens?: TokenSummary;
  entities: number;
  types: Record<string, number>;
  /** Entities that start on I-, M- or E- (an I-X after O, a type change inside a chunk): read as seqeval does. */
  irregular: number;
  duplicates: number;
  train_overlap?: number;
}

/** The key that makes two sentences the same input (their tokens). */
export function nerInputKey(tokens: readonly string[]): string {
  return tokens.join('\u0000');
}

/** Figures for one NER file; `count_subtokens` counts a sentence's sub-tokens, `train_keys` enables overlap. */
export function nerStats(opts: {
  path: string;
  data: NerFile;
  count_subtokens?: (tokens: readonly string[]) => number;
  train_keys?: Set<string>;
}): NerFileStats {
  const { data } = opts;
  const types = new Map<string, number>();
  let entities = 0;
  let irregular = 0;
  const seen = new Set<string>();
  let duplicates = 0;
  for (const s of data.sentences) {
    for (const sp of s.spans) types.set(sp.type, (types.get(sp.type) ?? 0) + 1);
    entities += s.spans.length;
    irregular += s.irregular;
    const key = `${nerInputKey(s.tokens)}\u0001${s.tags.join(' ')}`;
    if (seen.has(key)) duplicates++;
    else seen.add(key);
  }
  const stats: NerFileStats = {
    path: opts.path,
    format: data.format,
    scheme: data.scheme,
    sentences: data.sentences.length,
    skipped_rows: data.skipped_rows,
    tokens: summarize(data.sentences.map((s) => s.tokens.length)),
    ...(opts.count_subtokens ? { subtokens: subtokenSummary(data, opts.count_subtokens) } : {}),
    entities,
    types: Object.fromEntries([...types].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
    irregular,
    duplicates,
  };
  if (opts.train_keys)
    stats.train_overlap = data.sentences.filter((s) => opts.train_keys!.has(nerInputKey(s.tokens))).length;
  return stats;
}

function subtokenSummary(data: NerFile, count: (tokens: readonly string[]) => number): TokenSummary {
  const lengths = data.sentences.map((s) => count(s.tokens) + 2);
  const over = (n: number) => lengths.reduce((k, v) => k + (v > n ? 1 : 0), 0);
  return { ...summarize(lengths), over_128: over(128), over_256: over(256), over_512: over(512) };
}
