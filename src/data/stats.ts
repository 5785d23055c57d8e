// Statistics of read datasets for `refit data stats`: relation counts, lengths in characters and (given a token
// counter) WordPiece tokens, offset fallbacks, duplicates and overlap with the train file. Pure: no I/O.
import type { Example } from './types.ts';
import type { Dataset } from './dataset.ts';

/** Lengths at which a sequence would need truncation (max_seq_len choices). */
export const TRUNCATION_LENGTHS = Object.freeze([128, 256, 512] as const);
/** Tokens an encoded example adds to its sentence: [CLS], [SEP] and four entity markers. */
export const SPECIAL_TOKENS_PER_EXAMPLE = 6;

/** mean (2 decimals), p50, p95 (nearest rank) and max of a list of lengths. */
export interface LengthSummary {
  mean: number;
  p50: number;
  p95: number;
  max: number;
}
/** Token lengths plus how many examples are longer than each truncation length. */
export interface TokenSummary extends LengthSummary {
  over_128: number;
  over_256: number;
  over_512: number;
}

/** One data file's figures; `train_overlap` is absent for the train file and when only one file was given. */
export interface FileStats {
  path: string;
  format: string;
  examples: number;
  skipped_rows: number;
  na_label: string | null;
  relations: Record<string, number>;
  chars: LengthSummary;
  tokens?: TokenSummary;
  offset_fallbacks: number;
  duplicates: number;
  train_overlap?: number;
}

/** Summarises lengths; all zero for an empty list. */
export function summarize(lengths: number[]): LengthSummary {
  if (lengths.length === 0) return { mean: 0, p50: 0, p95: 0, max: 0 };
  const sorted = Float64Array.from(lengths).sort();
  const rank = (p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    mean: Math.round((sum / sorted.length) * 100) / 100,
    p50: rank(0.5),
    p95: rank(0.95),
    max: sorted[sorted.length - 1],
  };
}

/** The key that makes two examples "the same input": text and both spans (relation excluded). */
export function inputKey(e: Example): string {
  return `${e.head.start},${e.head.end},${e.tail.start},${e.tail.end}\u0000${e.text}`;
}

/** Figures for one dataset; `count_tokens` returns WordPiece tokens of a sentence, `train_keys` enables overlap. */
export function datasetStats(opts: {
  path: string;
  dataset: Dataset;
  na_label: string | null;
  count_tokens?: (text: string) => number;
  train_keys?: Set<string>;
}): FileStats {
  const { dataset } = opts;
  const examples = dataset.examples;
  // built in the order the JSON shows it
  const stats: FileStats = {
    path: opts.path,
    format: dataset.format,
    examples: examples.length,
    skipped_rows: dataset.skipped_rows,
    na_label: opts.na_label,
    relations: relationCounts(examples),
    chars: summarize(examples.map((e) => e.text.length)),
    ...(opts.count_tokens ? { tokens: tokenSummary(examples, opts.count_tokens) } : {}),
    offset_fallbacks: dataset.offset_fallbacks,
    duplicates: countDuplicates(examples),
  };
  if (opts.train_keys) stats.train_overlap = examples.filter((e) => opts.train_keys!.has(inputKey(e))).length;
  return stats;
}

function relationCounts(examples: Example[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const e of examples) {
    const r = e.relation ?? '(none)';
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return Object.fromEntries(sorted);
}

/** Examples identical to an earlier one in text, spans and relation (extra copies, not groups). */
function countDuplicates(examples: Example[]): number {
  const seen = new Set<string>();
  let dups = 0;
  for (const e of examples) {
    const key = `${e.relation ?? ''}\u0000${inputKey(e)}`;
    if (seen.has(key)) dups++;
    else seen.add(key);
  }
  return dups;
}

function tokenSummary(examples: Example[], count: (text: string) => number): TokenSummary {
  const lengths = examples.map((e) => count(e.text) + SPECIAL_TOKENS_PER_EXAMPLE);
  const over = (n: number) => lengths.reduce((k, v) => k + (v > n ? 1 : 0), 0);
  return { ...summarize(lengths), over_128: over(128), over_256: over(256), over_512: over(512) };
}
