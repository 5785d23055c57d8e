// The OOM escalation ladder: smaller micro-batch → gradient checkpointing → activation offload → optimizer offload too →
// shorter window (only if allowed) → give up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseRecovery, MIN_SEQ_LEN } from '../../src/worker/supervisor.ts';
import type { Offload } from '../../src/memory/index.ts';

const OOM = { kind: 'allocator-oom' };

test('chooseRecovery: halves the micro-batch first', () => {
  const a = chooseRecovery({
    levers: { micro_batch_size: 32, grad_checkpointing: false, max_seq_len: 256 },
    failed_size: 32,
    report: OOM,
    allow_shorter_seq: false,
  });
  assert.deepEqual(a && [a.kind, a.from, a.to], ['smaller_micro_batch', 32, 16]);
});

test('chooseRecovery: shrinks in proportion to free/requested when the message says so', () => {
  const a = chooseRecovery({
    levers: { micro_batch_size: 32, grad_checkpointing: false, max_seq_len: 256 },
    failed_size: 32,
    report: { kind: 'allocator-oom', requested_bytes: 8e9, free_bytes: 1e9 },
    allow_shorter_seq: false,
  });
  assert.deepEqual(a && [a.kind, a.to], ['smaller_micro_batch', 4]);
});

test('chooseRecovery: a short last micro-batch is halved from its own size', () => {
  const a = chooseRecovery({
    levers: { micro_batch_size: 32, grad_checkpointing: false, max_seq_len: 256 },
    failed_size: 6,
    report: OOM,
    allow_shorter_seq: false,
  });
  assert.equal(a?.kind === 'smaller_micro_batch' && a.to, 3);
});

test('chooseRecovery with several ranks: never below one example a rank, then the next lever', () => {
  const levers = { micro_batch_size: 4, grad_checkpointing: false, max_seq_len: 256 };
  const scaled = chooseRecovery({
    levers,
    failed_size: 4,
    report: { kind: 'allocator-oom', requested_bytes: 8e9, free_bytes: 1e9 },
    allow_shorter_seq: false,
    min_micro_batch: 2,
  });
  assert.deepEqual(
    scaled && [scaled.kind, scaled.to],
    ['smaller_micro_batch', 2],
    'free/requested says 0: 2',
  );
  const next = chooseRecovery({
    levers: { ...levers, micro_batch_size: 2 },
    failed_size: 2,
    report: OOM,
    allow_shorter_seq: false,
    min_micro_batch: 2,
  });
  assert.equal(next?.kind, 'grad_checkpointing', 'one example a rank already: checkpointing next');
});

test('chooseRecovery: micro-batch 1 → checkpointing → activation offload → optimizer offload too → shorter window only if allowed → null', () => {
  const one = { micro_batch_size: 1, grad_checkpointing: false, max_seq_len: 256 };
  assert.equal(
    chooseRecovery({ levers: one, failed_size: 1, report: OOM, allow_shorter_seq: false })?.kind,
    'grad_checkpointing',
  );
  const step = (offload: Offload | undefined, world?: number) => {
    const a = chooseRecovery({
      levers: { ...one, grad_checkpointing: true, offload },
      failed_size: 1,
      report: OOM,
      allow_shorter_seq: true,
      world,
    });
    return a && [a.kind, a.from, a.to];
  };
  // before anything is shortened: the activations, then the optimizer too (a run state without offload: none)
  assert.deepEqual(step(undefined), ['offload', 'none', 'activations']);
  assert.deepEqual(step('none'), ['offload', 'none', 'activations']);
  assert.deepEqual(step('activations'), ['offload', 'activations', 'all']);
  assert.deepEqual(step('optimizer'), ['offload', 'optimizer', 'all']);
  assert.deepEqual(step('all'), ['shorter_seq', 256, 128]);
  assert.deepEqual(step('none', 2), ['shorter_seq', 256, 128], 'several ranks: no offload');
  const ckpt = { ...one, grad_checkpointing: true, offload: 'all' as const };
  assert.equal(chooseRecovery({ levers: ckpt, failed_size: 1, report: OOM, allow_shorter_seq: false }), null);
  const shorter = chooseRecovery({ levers: ckpt, failed_size: 1, report: OOM, allow_shorter_seq: true });
  assert.deepEqual(shorter && [shorter.kind, shorter.to], ['shorter_seq', 128]);
  assert.equal(
    chooseRecovery({
      levers: { ...ckpt, max_seq_len: MIN_SEQ_LEN },
      failed_size: 1,
      report: OOM,
      allow_shorter_seq: true,
    }),
    null,
  );
});
