// The cost model's orderings (what fit relies on) and the allocated → reserved → device steps of planMemory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COEFFICIENTS,
  PRESETS,
  microBatchMs,
  planMemory,
  reservedFromAllocated,
  resolveGpu,
  trainFlopsPerToken,
  type RunShape,
} from '../../src/memory/index.ts';

const BASE = PRESETS['bert-base'];
const run = (over: Partial<RunShape> = {}): RunShape => ({
  engine: 'refit',
  mode: 'train',
  batch_size: 32,
  seq_len: 512,
  precision: 'fp32',
  attention: 'sdpa',
  grad_checkpointing: false,
  optimizer: 'adamw',
  num_labels: 10,
  ...over,
});

test('training FLOPs per token: 6 × non-embedding params + 12·L·s·h', () => {
  assert.equal(
    trainFlopsPerToken(BASE, 512),
    6 * 12 * (4 * 768 * 768 + 2 * 768 * 3072) + 12 * 12 * 512 * 768,
  );
});

test('orderings: checkpointing costs a forward, eager is slower at long sequences, bf16 beats fp32 on Ampere, not on Pascal', () => {
  const gpu = resolveGpu('RTX 3060');
  const ms = (o: Partial<RunShape>, g = gpu) => microBatchMs(BASE, run(o), g);
  assert.ok(Math.abs(ms({ grad_checkpointing: true }) / ms({}) - 4 / 3) < 1e-9);
  assert.ok(ms({ attention: 'eager' }) > 1.1 * ms({}));
  assert.ok(ms({ precision: 'bf16' }) < 0.7 * ms({}));
  const pascal = resolveGpu('GTX 1080 Ti');
  assert.ok(
    ms({ precision: 'fp16' }, pascal) >= 0.9 * ms({}, pascal),
    'no tensor cores: autocast buys no speed',
  );
  // tiny steps are launch-bound: the per-layer floor
  const floor = 12 * COEFFICIENTS.COST.launch_ms_per_layer['fp32-sdpa'];
  assert.equal(microBatchMs(BASE, run({ batch_size: 1, seq_len: 16 }), resolveGpu('H200')), floor);
});

test('reserved = calibrated factor × allocated + bytes, 2 MiB segments, never below allocated; device adds the context', () => {
  const r = reservedFromAllocated(10 * 2 ** 30);
  assert.equal(r % (2 * 2 ** 20), 0);
  assert.ok(r >= 10 * 2 ** 30);
  const p = planMemory({ model: BASE, run: run(), gpu: resolveGpu('RTX 3060') });
  assert.equal(p.peak_reserved_bytes, reservedFromAllocated(p.peak_allocated_bytes));
  assert.equal(p.peak_device_bytes, p.peak_reserved_bytes + COEFFICIENTS.CONTEXT_BYTES);
  assert.equal(p.fits, p.peak_device_bytes <= resolveGpu('RTX 3060').memory_bytes);
});

test('refit vs hf: the padding mask under SDPA, fused AdamW drops the foreach temporary, inference is far below training', () => {
  const refit = planMemory({ model: BASE, run: run({ batch_size: 2, seq_len: 64 }) });
  const fused = planMemory({
    model: BASE,
    run: run({ batch_size: 2, seq_len: 64, optimizer: 'adamw-fused' }),
  });
  assert.equal(refit.peak_phase, 'optimizer-step');
  assert.ok(
    refit.peak_allocated_bytes - fused.peak_allocated_bytes > 0.95 * 4 * 100e6,
    'foreach keeps one fp32 copy of the states (~4 B/param)',
  );
  const sdpa = (engine: 'hf' | 'refit') =>
    planMemory({ model: BASE, run: run({ engine, precision: 'bf16' }) });
  assert.ok(
    sdpa('refit').breakdown.activations > sdpa('hf').breakdown.activations,
    'refit materialises the padding mask',
  );
  const infer = planMemory({ model: BASE, run: run({ mode: 'infer' }) });
  assert.ok(infer.peak_allocated_bytes < 0.3 * planMemory({ model: BASE, run: run() }).peak_allocated_bytes);
  assert.equal(infer.breakdown.optimizer + infer.breakdown.gradients, 0);
  // the breakdown adds up to the device peak in every phase
  for (const p of [
    refit,
    fused,
    sdpa('hf'),
    sdpa('refit'),
    infer,
    planMemory({
      model: BASE,
      run: run({ attention: 'eager', precision: 'fp16', grad_checkpointing: true }),
    }),
  ]) {
    assert.equal(
      Object.values(p.breakdown).reduce((a, b) => a + b, 0),
      p.peak_device_bytes,
    );
  }
});
