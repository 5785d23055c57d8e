// Float comparisons of what the worker computes. Its fp32 matrix products come from whichever BLAS torch loads
// (the reference BLAS, OpenBLAS, MKL) with however many threads it has; each of these orders a product's sums
// its own way, and so does one BLAS between a row alone and the same row inside a batch (other blocking). Two
// results of the same maths therefore agree to a few units of fp32 rounding, never bit for bit: compare with these.
import assert from 'node:assert/strict';

/**
 * A prediction's score (a probability, softmax of fp32 logits) for the same input computed another way: alone or in
 * a batch, through --text, --input or the API, on another BLAS or thread count. Measured on the test runs' bert-tiny:
 * at most 3.4e-8 apart (reference BLAS and OpenBLAS, 1 and 2 threads, alone and in a batch of 40), i.e. about one
 * fp32 rounding (2^-24 ≈ 6e-8) of a score near 0.5. 1e-6 leaves 30 times that, and stays 500 times below the gap
 * between two different sentences' scores on that model (≈ 5e-4), so a row answered from another row still fails.
 */
export const SCORE_TOLERANCE = 1e-6;

/**
 * Logits of the same examples evaluated twice on the same weights (another batch, padding, BLAS or thread count):
 * fp32 sums over at most a few hundred terms, regrouped, move a logit of size ~1 by well under 1e-5 (the worker
 * tests' bound for "only the summation order differs").
 */
export const LOGIT_TOLERANCE = 1e-5;

/** Asserts |actual - expected| <= tolerance, naming both values. */
export function assertClose(actual: number, expected: number, tolerance: number, what = ''): void {
  assert.ok(
    Number.isFinite(actual) && Math.abs(actual - expected) <= tolerance,
    `${what ? `${what}: ` : ''}${actual} vs ${expected} (tolerance ${tolerance})`,
  );
}

/** Asserts two tables of logits have the same shape and agree within `tolerance` everywhere. */
export function assertCloseRows(
  actual: number[][],
  expected: number[][],
  tolerance: number,
  what = '',
): void {
  assert.equal(actual.length, expected.length, `${what}: rows`);
  actual.forEach((row, i) => {
    assert.equal(row.length, expected[i].length, `${what}: row ${i}`);
    row.forEach((v, j) => assertClose(v, expected[i][j], tolerance, `${what} [${i}][${j}]`));
  });
}

/** The largest |a - b| over two tables of logits of the same shape. */
export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}
