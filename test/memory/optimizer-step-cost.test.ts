// The optimizer step in the speed model: a memory-bound pass over the trainable values at the card's bandwidth (or
// the host's under optimizer offload), so 8-bit AdamW's dequantise/quantise work ranks it after AdamW when both fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOST_MEMORY_GBS,
  OPTIMIZER_STEP,
  PRESETS,
  fitConfig,
  optimizerStepMs,
  plainConfig,
  resolveGpu,
  type RunShape,
} from '../../src/memory/index.ts';

const LARGE = { ...PRESETS['bert-large'], vocab_size: 21128 };
const run = (over: Partial<RunShape> = {}): RunShape => ({
  engine: 'refit',
  mode: 'train',
  batch_size: 8,
  seq_len: 512,
  precision: 'fp32',
  attention: 'sdpa',
  grad_checkpointing: false,
  optimizer: 'adamw',
  num_labels: 10,
  ...over,
});
const gpu = resolveGpu('RTX 3070');
const ms = (o: Partial<RunShape> = {}, g = gpu) => optimizerStepMs({ model: LARGE, run: run(o), gpu: g });

test('a device AdamW step is its bytes per trainable value over the card bandwidth; 8-bit costs more, fused less', () => {
  const adamw = ms();
  // BERT-large with a 21128 vocabulary: about 325 M trainable values (the unused pooler takes no step)
  const values = (adamw * 1e-3 * gpu.bandwidth_gbs! * 1e9) / OPTIMIZER_STEP.adamw.bytes_per_value;
  assert.ok(values > 320e6 && values < 330e6, `${values} values`);
  assert.ok(ms({ optimizer: 'adamw-fused' }) < 0.5 * adamw);
  assert.ok(
    ms({ optimizer: 'adamw-8bit' }) > 2 * adamw,
    'dequantise + quantise both moments, one tensor at a time',
  );
  assert.ok(ms({ optimizer: 'sgd' }) < adamw);
  // a faster card steps faster; inference takes no step
  assert.ok(ms({}, resolveGpu('H100')) < adamw / 5);
  assert.equal(ms({ mode: 'infer' }), 0);
});

test('frozen parameters take no step: freeze_layers and LoRA shrink it; zero1 steps a rank share', () => {
  const full = ms();
  assert.ok(ms({ freeze_layers: 12 }) < 0.6 * full);
  assert.ok(ms({ lora_rank: 8, lora_targets: ['query', 'value'] }) < 0.01 * full);
  assert.ok(Math.abs(ms({ ranks: 2, strategy: 'zero1' }) / full - 0.5) < 1e-6);
  assert.equal(ms({ ranks: 2, strategy: 'ddp' }), full);
  // autocast: the 16-bit copy of the updated Linear weights; fp16 also unscales the gradients
  assert.ok(ms({ precision: 'bf16' }) > full && ms({ precision: 'fp16' }) > ms({ precision: 'bf16' }));
});

test('an offloaded step runs at the host bandwidth (fused AdamW is the plain one there)', () => {
  const host = ms({ offload: 'optimizer' });
  assert.ok(host > ms(), `host ${HOST_MEMORY_GBS} GB/s is slower than the card`);
  assert.equal(ms({ offload: 'optimizer', optimizer: 'adamw-fused' }), host);
  assert.ok(ms({ offload: 'optimizer', optimizer: 'adamw-8bit' }) > host);
  assert.equal(ms({ offload: 'activations' }), ms(), 'activation offload leaves the step on the device');
});

test('fit prefers AdamW over adamw-8bit when both fit (both with LoRA, 8-bit listed first)', () => {
  const config = plainConfig({ batch_size: 32, max_seq_len: 512, offload: 'none' });
  const r = fitConfig({
    config,
    facts: { engine: 'refit' },
    model: LARGE,
    gpu: resolveGpu('8GB'),
    permits: ['lora', 'adamw-8bit'],
    allow: { optimizer: ['adamw-8bit', 'adamw'], lora_rank: [8], precision: ['fp16'], attention: ['sdpa'] },
  });
  assert.equal(r.fits, true);
  assert.equal(r.config.optimizer, 'adamw');
  const eight = r.alternatives.find(
    (c) =>
      c.config.optimizer === 'adamw-8bit' &&
      c.config.micro_batch_size === r.config.micro_batch_size &&
      c.config.grad_checkpointing === r.config.grad_checkpointing,
  );
  assert.ok(eight, 'the same split with adamw-8bit fits too');
  assert.ok(eight.predicted_step_ms > r.predicted_step_ms);
});
