// fitConfig: keeps micro × accumulation = the effective batch, respects bf16 support and the margin, prefers
// the largest micro-batch that fits, uses real lengths for dynamic padding; the motivating 12 GB case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PRESETS,
  expectedPaddedLength,
  fitConfig,
  loadModelDims,
  plainConfig,
  planMemory,
  resolveGpu,
  type FitAllow,
  type GpuSpec,
  type ModelDims,
} from '../../src/memory/index.ts';

/** fitConfig over the config of a plain run (max padding unless lengths are given: dynamic). */
function fit(o: {
  model: ModelDims;
  gpu: GpuSpec;
  effective_batch: number;
  seq_len: number;
  engine?: 'refit' | 'hf';
  lengths?: number[];
  allow?: FitAllow;
}) {
  const config = plainConfig({
    batch_size: o.effective_batch,
    max_seq_len: o.seq_len,
    padding: o.lengths ? 'dynamic' : 'max',
  });
  const facts = { engine: o.engine ?? ('refit' as const), lengths: o.lengths };
  return fitConfig({ config, facts, model: o.model, gpu: o.gpu, allow: o.allow });
}

const CHINESE_BASE = loadModelDims('bert-base', { vocab_size: 21128 });

test('RTX 3060, effective batch 32, length 512: fits without needless accumulation (bf16 + SDPA, 32 × 1)', () => {
  const r = fit({
    model: CHINESE_BASE,
    gpu: resolveGpu('RTX 3060'),
    effective_batch: 32,
    seq_len: 512,
  });
  assert.equal(r.fits, true);
  assert.equal(r.config.micro_batch_size * r.config.grad_accumulation, 32);
  assert.deepEqual(
    [
      r.config.micro_batch_size,
      r.config.grad_accumulation,
      r.config.precision,
      r.config.attention,
      r.config.grad_checkpointing,
    ],
    [32, 1, 'bf16', 'sdpa', false],
  );
  assert.ok(
    r.peak_device_bytes <= r.budget_bytes && r.budget_bytes <= 0.95 * resolveGpu('RTX 3060').memory_bytes + 1,
  );
  assert.ok(
    r.alternatives.length > 0 &&
      r.alternatives.every((a) => a.fits && a.config.micro_batch_size * a.config.grad_accumulation === 32),
  );
  assert.ok(
    r.alternatives.every((a) => a.predicted_examples_per_s <= r.predicted_examples_per_s * 1.02),
    'the chosen one is the fastest (2 % tie band)',
  );
});

test('restricted to fp32 + eager (DeepKE as it is) on a 12 GB card: accumulation appears, and the micro-batch is the largest that fits', () => {
  const gpu = resolveGpu('RTX 3060');
  const r = fit({
    model: CHINESE_BASE,
    gpu,
    effective_batch: 32,
    seq_len: 512,
    engine: 'hf',
    allow: { precision: ['fp32'], attention: ['eager'], grad_checkpointing: [false] },
  });
  assert.equal(r.fits, true);
  assert.equal(r.config.micro_batch_size * r.config.grad_accumulation, 32);
  const bigger = r.config.micro_batch_size * 2;
  const run = {
    engine: 'hf' as const,
    mode: 'train' as const,
    batch_size: bigger,
    seq_len: 512,
    precision: 'fp32' as const,
    attention: 'eager' as const,
    grad_checkpointing: false,
    optimizer: 'adamw' as const,
    num_labels: 50,
  };
  assert.ok(
    planMemory({ model: CHINESE_BASE, run, gpu }).peak_device_bytes > r.budget_bytes,
    'the next micro-batch size would not fit',
  );
});

test('bf16 only on cards that support it; the effective batch is kept on every card', () => {
  for (const name of [
    'GTX 1080 Ti',
    'RTX 2080 Ti',
    'T4',
    'V100 16GB',
    'RTX 3060',
    'RTX 4090',
    'A100 80GB',
    '8GB',
  ]) {
    const gpu = resolveGpu(name);
    const r = fit({ model: CHINESE_BASE, gpu, effective_batch: 24, seq_len: 256 });
    for (const c of [r, ...r.alternatives]) {
      assert.equal(c.config.micro_batch_size * c.config.grad_accumulation, 24, name);
      if (!gpu.bf16) assert.notEqual(c.config.precision, 'bf16', name);
    }
    assert.equal(r.fits, true, name);
  }
});

test('an effective batch with few divisors still keeps micro × accumulation exact', () => {
  const r = fit({
    model: PRESETS['bert-large'],
    gpu: resolveGpu('RTX 3060'),
    effective_batch: 7,
    seq_len: 512,
  });
  assert.ok([1, 7].includes(r.config.micro_batch_size));
  assert.equal(r.config.micro_batch_size * r.config.grad_accumulation, 7);
});

test('nothing fits: fits=false with the smallest configuration', () => {
  const r = fit({
    model: PRESETS['bert-large'],
    gpu: resolveGpu('2GB'),
    effective_batch: 8,
    seq_len: 512,
  });
  assert.equal(r.fits, false);
  assert.equal(r.config.micro_batch_size, 1);
});

test('real lengths: memory is planned at the longest example (padded as the batcher pads), speed at the expected padded length', () => {
  const lengths = Array.from({ length: 1000 }, (_, i) => 20 + (i % 100)); // 20…119 tokens
  // the batcher's rule (batch/shapes.ts): multiples of 8 up to 128 tokens, then of 64
  assert.equal(expectedPaddedLength([10, 70, 200], 1, 512), (16 + 72 + 256) / 3);
  assert.equal(expectedPaddedLength([10, 70, 200], 3, 512), 256);
  const gpu = resolveGpu('RTX 3060');
  const dyn = fit({ model: CHINESE_BASE, gpu, effective_batch: 32, seq_len: 512, lengths });
  const fixed = fit({ model: CHINESE_BASE, gpu, effective_batch: 32, seq_len: 512 });
  assert.equal(dyn.config.padding, 'dynamic');
  assert.ok(dyn.peak_device_bytes < fixed.peak_device_bytes);
  assert.ok(dyn.predicted_examples_per_s > 2 * fixed.predicted_examples_per_s);
});
