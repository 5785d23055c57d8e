// plan.json decisions: CPU auto, CUDA auto (fit to a budget keeping the effective batch), manual levers, bad levers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/index.ts';
import { PRESETS } from '../../src/memory/index.ts';
import { decideMemory } from '../../src/run/index.ts';

const CPU = { cuda: false, device_count: 0, bf16: false, sdpa: true, fused_adamw: false };
const H200 = {
  cuda: true,
  device_count: 1,
  bf16: true,
  sdpa: true,
  fused_adamw: true,
  device_name: 'NVIDIA H200',
  total_memory: 150e9,
};
const LENGTHS = Int32Array.from({ length: 3000 }, (_, i) => 40 + ((i * 53) % 400));
const bertBase = { ...PRESETS['bert-base'], vocab_size: 21128 };
const cfg = (o: string[]) =>
  resolveConfig({
    overrides: ['model.preset=bert-base', 'train.batch_size=32', 'memory.max_seq_len=512', ...o],
  });

test('cpu auto: one micro-batch per logical batch, fp32, no checkpointing, with the reasons recorded', () => {
  const p = decideMemory({
    config: cfg([]),
    dims: bertBase,
    caps: CPU,
    device: 'cpu',
    lengths: LENGTHS,
    num_labels: 11,
  });
  assert.equal(p.mode, 'auto');
  assert.equal(p.budget_bytes, null);
  assert.deepEqual(
    [
      p.decision.micro_batch_size,
      p.decision.grad_accumulation,
      p.decision.precision,
      p.decision.grad_checkpointing,
      p.decision.attention,
    ],
    [32, 1, 'fp32', false, 'sdpa'],
  );
  assert.match(p.decision.reasons.join(' '), /cpu/);
  assert.ok(p.plan && p.plan.peak_allocated_bytes > 0, 'the prediction is recorded');
});

test('cuda auto with an 11.75 GiB budget: fits bert-base at 512 keeping the effective batch of 32', () => {
  const p = decideMemory({
    config: cfg(['memory.budget=11.75GiB', 'memory.padding=max']),
    dims: bertBase,
    caps: H200,
    device: 'cuda',
    lengths: LENGTHS,
    num_labels: 11,
  });
  const d = p.decision;
  assert.equal(p.budget_bytes, 11.75 * 2 ** 30);
  assert.equal(d.batch_size, 32);
  assert.ok(
    d.micro_batch_size * d.grad_accumulation >= 32 && d.micro_batch_size * (d.grad_accumulation - 1) < 32,
    JSON.stringify(d),
  );
  assert.ok(
    p.plan && p.plan.peak_device_bytes <= p.budget_bytes!,
    `predicted ${p.plan?.peak_device_bytes} within the budget`,
  );
  assert.ok(Array.isArray(p.alternatives));
});

test('manual: the configured levers, micro-batch × accumulation = effective batch', () => {
  const p = decideMemory({
    config: cfg(['memory.mode=manual', 'memory.grad_accumulation=4']),
    dims: bertBase,
    caps: CPU,
    device: 'cpu',
    lengths: LENGTHS,
    num_labels: 11,
  });
  assert.deepEqual(
    [p.decision.micro_batch_size, p.decision.grad_accumulation, p.decision.batch_size],
    [8, 4, 32],
  );
});

test('bad levers are one-line config errors', () => {
  const bad = (o: string[], caps: typeof CPU | typeof H200, device: string, re: RegExp) =>
    assert.throws(
      () => decideMemory({ config: cfg(o), dims: bertBase, caps, device, lengths: LENGTHS, num_labels: 11 }),
      (e: Error) => re.test(e.message) && !e.message.includes('\n'),
    );
  bad(['memory.micro_batch_size=64'], CPU, 'cpu', /larger than train.batch_size/);
  bad(
    ['memory.micro_batch_size=8', 'memory.grad_accumulation=3'],
    CPU,
    'cpu',
    /must equal|set only one of them/,
  );
  bad(['memory.precision=fp16'], CPU, 'cpu', /needs a CUDA device/);
  bad(['memory.precision=bf16'], { ...H200, bf16: false }, 'cuda', /does not support bf16/);
  bad(['memory.precision=fp16', 'distributed.strategy=fsdp'], H200, 'cuda', /fsdp trains in bf16 or fp32/);
});

test('fsdp on a card without bf16: auto picks fp32, never fp16', () => {
  const caps = { ...H200, bf16: false, total_memory: 16e9 };
  const decide = (o: string[]) =>
    decideMemory({ config: cfg(o), dims: bertBase, caps, device: 'cuda', lengths: LENGTHS, num_labels: 11 });
  assert.equal(decide([]).decision.precision, 'fp16', 'plain: fp16 is the fast choice on such a card');
  assert.equal(decide(['distributed.strategy=fsdp']).decision.precision, 'fp32');
});
