// Padded shapes: dynamic padding rounds a batch's longest example up to a small set of lengths
// (multiples of 8 up to 128, then of 64) so kernels and the caching allocator reuse the same shapes.

/** Step between padded lengths up to SMALL_SEQ_LIMIT tokens. */
export const SMALL_SEQ_STEP = 8;
/** Padded lengths above this many tokens are rounded to multiples of LARGE_SEQ_STEP. */
export const SMALL_SEQ_LIMIT = 128;
/** Step between padded lengths above SMALL_SEQ_LIMIT tokens. */
export const LARGE_SEQ_STEP = 64;

/** The padded length for a batch whose longest example has `longest` tokens, never above `max_seq_len`. */
export function roundSeqLen(longest: number, max_seq_len: number): number {
  const n = Math.max(1, longest);
  const step = n <= SMALL_SEQ_LIMIT ? SMALL_SEQ_STEP : LARGE_SEQ_STEP;
  const rounded = Math.ceil(n / step) * step;
  return Math.max(n, Math.min(rounded, max_seq_len));
}

/** The padded length of a micro-batch under a padding policy. */
export function paddedLength(opts: {
  indices: readonly number[];
  lengths: ArrayLike<number>;
  padding: 'dynamic' | 'max';
  max_seq_len: number;
}): number {
  if (opts.padding === 'max') return opts.max_seq_len;
  let longest = 0;
  for (const i of opts.indices) longest = Math.max(longest, opts.lengths[i]);
  return roundSeqLen(longest, opts.max_seq_len);
}
