// Batch planning: epochs are reproducible permutations, splits keep every example once, shapes are rounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  planEpoch,
  splitLogicalBatch,
  resplitRemaining,
  planEvalBatches,
  roundSeqLen,
  countTokens,
  type BatchPolicy,
} from '../../src/batch/index.ts';

const LENGTHS = Int32Array.from({ length: 257 }, (_, i) => 5 + ((i * 37) % 200));

test('roundSeqLen: multiples of 8 up to 128, of 64 above, capped at max_seq_len', () => {
  const cases: Array<[number, number, number]> = [
    [1, 512, 8],
    [8, 512, 8],
    [9, 512, 16],
    [127, 512, 128],
    [129, 512, 192],
    [300, 512, 320],
    [500, 512, 512],
    [250, 256, 256],
    [200, 200, 200],
  ];
  for (const [longest, max, want] of cases)
    assert.equal(roundSeqLen(longest, max), want, `${longest} / ${max}`);
});

test('planEpoch: a permutation of all examples, reproducible by (seed, epoch), different across epochs', () => {
  for (const padding of ['dynamic', 'max'] as const) {
    const a = planEpoch({ lengths: LENGTHS, batch_size: 16, padding, seed: 42, epoch: 0 });
    const b = planEpoch({ lengths: LENGTHS, batch_size: 16, padding, seed: 42, epoch: 0 });
    const c = planEpoch({ lengths: LENGTHS, batch_size: 16, padding, seed: 42, epoch: 1 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.equal(a.length, Math.ceil(257 / 16));
    assert.deepEqual(
      a.flat().sort((x, y) => x - y),
      Array.from({ length: 257 }, (_, i) => i),
    );
    assert.equal(a.filter((batch) => batch.length !== 16).length, 1, 'one short batch');
  }
});

test('planEpoch dynamic: buckets waste less padding than a plain shuffle', () => {
  const policy = (padding: 'dynamic'): BatchPolicy => ({
    batch_size: 16,
    micro_batch_size: 16,
    padding,
    batching: 'buckets',
    max_seq_len: 512,
  });
  const padded = (batches: number[][]) =>
    batches
      .map(
        (b) =>
          countTokens(splitLogicalBatch({ indices: b, lengths: LENGTHS, policy: policy('dynamic') }), LENGTHS)
            .padded_tokens,
      )
      .reduce((x, y) => x + y, 0);
  const bucketed = planEpoch({ lengths: LENGTHS, batch_size: 16, padding: 'dynamic', seed: 1, epoch: 0 });
  const shuffled = planEpoch({ lengths: LENGTHS, batch_size: 16, padding: 'max', seed: 1, epoch: 0 });
  assert.ok(padded(bucketed) < 0.8 * padded(shuffled), `${padded(bucketed)} vs ${padded(shuffled)}`);
});

test('splitLogicalBatch buckets: k micro-batches of at most micro_batch_size, each padded to its own longest', () => {
  const indices = Array.from({ length: 32 }, (_, i) => i * 3);
  const policy: BatchPolicy = {
    batch_size: 32,
    micro_batch_size: 5,
    padding: 'dynamic',
    batching: 'buckets',
    max_seq_len: 512,
  };
  const micro = splitLogicalBatch({ indices, lengths: LENGTHS, policy });
  assert.equal(micro.length, 7);
  assert.deepEqual(
    micro.flatMap((m) => m.indices).sort((a, b) => a - b),
    indices,
  );
  for (const m of micro) {
    assert.ok(m.indices.length <= 5);
    assert.equal(m.seq_len, roundSeqLen(Math.max(...m.indices.map((i) => LENGTHS[i])), 512));
  }
  const maxPadded = splitLogicalBatch({ indices, lengths: LENGTHS, policy: { ...policy, padding: 'max' } });
  assert.ok(maxPadded.every((m) => m.seq_len === 512));
});

test('splitLogicalBatch token_budget: padded tokens per micro-batch within max_tokens', () => {
  const indices = Array.from({ length: 64 }, (_, i) => i);
  const policy: BatchPolicy = {
    batch_size: 64,
    micro_batch_size: 64,
    padding: 'dynamic',
    batching: 'token_budget',
    max_tokens: 1024,
    max_seq_len: 512,
  };
  const micro = splitLogicalBatch({ indices, lengths: LENGTHS, policy });
  assert.deepEqual(
    micro.flatMap((m) => m.indices).sort((a, b) => a - b),
    indices,
  );
  for (const m of micro)
    assert.ok(m.indices.length * m.seq_len <= 1024 || m.indices.length === 1, JSON.stringify(m));
  const counts = micro.map((m) => m.indices.length);
  assert.ok(
    Math.max(...counts) > Math.min(...counts),
    'short examples share a micro-batch, long ones do not',
  );
});

test('resplitRemaining: keeps completed micro-batches out, re-splits the rest smaller, loses nothing', () => {
  const indices = Array.from({ length: 32 }, (_, i) => i);
  const policy: BatchPolicy = {
    batch_size: 32,
    micro_batch_size: 8,
    padding: 'dynamic',
    batching: 'buckets',
    max_seq_len: 512,
  };
  const micro = splitLogicalBatch({ indices, lengths: LENGTHS, policy });
  const rest = resplitRemaining({
    micro_batches: micro,
    completed: 1,
    lengths: LENGTHS,
    policy: { ...policy, micro_batch_size: 4 },
  });
  assert.equal(rest.length, 6);
  assert.deepEqual(
    [...micro[0].indices, ...rest.flatMap((m) => m.indices)].sort((a, b) => a - b),
    indices,
  );
});

test('planEvalBatches: every example once, sorted by length', () => {
  const batches = planEvalBatches({ lengths: LENGTHS, batch_size: 32, padding: 'dynamic', max_seq_len: 512 });
  assert.deepEqual(
    batches.flatMap((b) => b.indices).sort((a, b) => a - b),
    Array.from({ length: 257 }, (_, i) => i),
  );
  assert.ok(batches[0].seq_len >= batches[batches.length - 1].seq_len);
});
