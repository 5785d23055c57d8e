// Batch planning: example lengths → logical batches per epoch (reproducible from seed and epoch) → micro-batches
// with padded lengths. The logical batch is the effective batch; micro-batches only split it (design §2).
// Pure functions over lengths: no I/O, no tensors.
import type { MicroBatch } from '../worker/protocol.ts';
import { epochSeed, seededRandom, shuffleInPlace } from './rng.ts';
import { paddedLength, roundSeqLen } from './shapes.ts';

/** How logical batches are formed and split; `batch_size` is the effective batch, never changed by splitting. */
export interface BatchPolicy {
  batch_size: number;
  /** Examples per micro-batch (with `token_budget`, an upper bound next to `max_tokens`). */
  micro_batch_size: number;
  padding: 'dynamic' | 'max';
  batching: 'buckets' | 'token_budget';
  /** token_budget: most padded tokens (examples × padded length) in one micro-batch. */
  max_tokens?: number;
  max_seq_len: number;
}

/** With length buckets, examples are sorted by length inside chunks of this many logical batches. */
export const BUCKET_CHUNK_BATCHES = 100;

/** Optimizer steps in one epoch of `n` examples (the last logical batch may be smaller). */
export function stepsPerEpoch(n: number, batch_size: number): number {
  return Math.ceil(n / batch_size);
}

/**
 * The logical batches (example indices) of one epoch. Dynamic padding groups similar lengths: shuffle, sort
 * within chunks of BUCKET_CHUNK_BATCHES × batch_size, cut, then shuffle the batches. Max padding gains
 * nothing from sorting, so it is a plain shuffle (what DeepKE does).
 */
export function planEpoch(opts: {
  lengths: ArrayLike<number>;
  batch_size: number;
  padding: 'dynamic' | 'max';
  seed: number;
  epoch: number;
}): number[][] {
  const { lengths, batch_size } = opts;
  if (!(batch_size >= 1)) throw new RangeError(`batch_size must be ≥ 1, got ${batch_size}`);
  const random = seededRandom(epochSeed(opts.seed, opts.epoch));
  const order = shuffleInPlace(
    Array.from({ length: lengths.length }, (_, i) => i),
    random,
  );
  if (opts.padding === 'dynamic') {
    const chunk = BUCKET_CHUNK_BATCHES * batch_size;
    for (let s = 0; s < order.length; s += chunk) {
      const sorted = order.slice(s, s + chunk).sort((a, b) => lengths[a] - lengths[b] || a - b);
      order.splice(s, sorted.length, ...sorted);
    }
  }
  const batches: number[][] = [];
  for (let s = 0; s < order.length; s += batch_size) batches.push(order.slice(s, s + batch_size));
  return opts.padding === 'dynamic' ? shuffleInPlace(batches, random) : batches;
}

/** Splits one logical batch into micro-batches under `policy` (sorted by length so each pads to its own longest). */
export function splitLogicalBatch(opts: {
  indices: readonly number[];
  lengths: ArrayLike<number>;
  policy: BatchPolicy;
}): MicroBatch[] {
  const { lengths, policy } = opts;
  const sorted = [...opts.indices].sort((a, b) => lengths[b] - lengths[a] || a - b);
  const groups =
    policy.batching === 'token_budget'
      ? byTokenBudget(sorted, lengths, policy)
      : byCount(sorted, policy.micro_batch_size);
  return groups.map((indices) => ({
    indices,
    seq_len: paddedLength({ indices, lengths, padding: policy.padding, max_seq_len: policy.max_seq_len }),
  }));
}

function byCount(sorted: number[], size: number): number[][] {
  if (!(size >= 1)) throw new RangeError(`micro_batch_size must be ≥ 1, got ${size}`);
  const groups: number[][] = [];
  for (let s = 0; s < sorted.length; s += size) groups.push(sorted.slice(s, s + size));
  return groups;
}

// Longest first: the first example of a group fixes its padded length, so a group grows while
// (count + 1) × padded length stays within max_tokens. A single example always forms a group.
function byTokenBudget(sorted: number[], lengths: ArrayLike<number>, policy: BatchPolicy): number[][] {
  const budget = policy.max_tokens ?? policy.micro_batch_size * policy.max_seq_len;
  const cap = Math.max(1, policy.micro_batch_size || Infinity);
  const groups: number[][] = [];
  let group: number[] = [];
  let seq = 0;
  for (const i of sorted) {
    if (group.length === 0)
      seq = policy.padding === 'max' ? policy.max_seq_len : roundSeqLen(lengths[i], policy.max_seq_len);
    if (group.length > 0 && ((group.length + 1) * seq > budget || group.length >= cap)) {
      groups.push(group);
      group = [];
      seq = policy.padding === 'max' ? policy.max_seq_len : roundSeqLen(lengths[i], policy.max_seq_len);
    }
    group.push(i);
  }
  if (group.length) groups.push(group);
  return groups;
}

/**
 * After an OOM in micro-batch `completed` of a step: the examples of that micro-batch and all later ones,
 * re-split under the smaller `policy`. Earlier micro-batches already hold their gradients, so they are not repeated.
 */
export function resplitRemaining(opts: {
  micro_batches: readonly MicroBatch[];
  completed: number;
  lengths: ArrayLike<number>;
  policy: BatchPolicy;
}): MicroBatch[] {
  const rest = opts.micro_batches.slice(opts.completed).flatMap((m) => m.indices);
  return splitLogicalBatch({ indices: rest, lengths: opts.lengths, policy: opts.policy });
}

/** Evaluation batches over examples 0..n-1 sorted by length (the caller maps logits back by `indices`). */
export function planEvalBatches(opts: {
  lengths: ArrayLike<number>;
  batch_size: number;
  padding: 'dynamic' | 'max';
  max_seq_len: number;
}): MicroBatch[] {
  const { lengths } = opts;
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort(
    (a, b) => lengths[b] - lengths[a] || a - b,
  );
  return byCount(order, opts.batch_size).map((indices) => ({
    indices,
    seq_len: paddedLength({ indices, lengths, padding: opts.padding, max_seq_len: opts.max_seq_len }),
  }));
}

/** Real and padded token counts of a list of micro-batches. */
export function countTokens(
  micro_batches: readonly MicroBatch[],
  lengths: ArrayLike<number>,
): { tokens: number; padded_tokens: number; examples: number } {
  let tokens = 0,
    padded = 0,
    examples = 0;
  for (const m of micro_batches) {
    for (const i of m.indices) tokens += lengths[i];
    padded += m.indices.length * m.seq_len;
    examples += m.indices.length;
  }
  return { tokens, padded_tokens: padded, examples };
}
