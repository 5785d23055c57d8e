// Exact terms of the memory model: parameter counts (memory-model.md §2.2), 512-B rounding, model states,
// foreach/fused/SGD optimizer bytes, autocast copies and checkpoint inputs. Exact: no tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PRESETS,
  countParams,
  exactTerms,
  hfTraits,
  paramTensors,
  refitTraits,
  roundAlloc,
  tensorBytes,
  type ModelDims,
  type RunShape,
} from '../../src/memory/index.ts';

const BASE = PRESETS['bert-base'];
const LARGE = PRESETS['bert-large'];
const bertModel = (m: ModelDims) => countParams(paramTensors(m, { concat: 0, pooler: true, num_labels: 0 }));
const run = (over: Partial<RunShape> = {}): RunShape => ({
  engine: 'hf',
  mode: 'train',
  batch_size: 8,
  seq_len: 128,
  precision: 'fp32',
  attention: 'sdpa',
  grad_checkpointing: false,
  optimizer: 'adamw',
  num_labels: 50,
  ...over,
});

test('BertModel parameter counts match memory-model.md §2.2', () => {
  const cases: Array<[string, ModelDims, number]> = [
    ['bert-base-uncased', BASE, 109_482_240],
    ['bert-large-uncased', LARGE, 335_141_888],
    ['bert-base-cased (V=28996)', { ...BASE, vocab_size: 28996 }, 108_310_272],
    ['bert-base-chinese (V=21128)', { ...BASE, vocab_size: 21128 }, 102_267_648],
  ];
  for (const [name, dims, want] of cases) assert.equal(bertModel(dims), want, name);
});

test('sequence-classification heads add h·n + n (1,538 base, 2,050 large with 2 labels)', () => {
  const seqCls = (m: ModelDims) => countParams(paramTensors(m, { concat: 1, pooler: true, num_labels: 2 }));
  assert.equal(seqCls(BASE), 109_483_778);
  assert.equal(seqCls(LARGE), 335_143_938);
});

test('autocast copies every Linear weight and bias: ≈ 85.6 M params in BERT-base (with pooler)', () => {
  const lin = paramTensors(BASE, { concat: 0, pooler: true, num_labels: 0 }).filter((t) => t.linear);
  assert.equal(countParams(lin), 85_608_192);
});

test('the golden grid model (no pooler, Linear(3h, 50)) has the measured parameter counts', () => {
  const chinese = (m: ModelDims) => ({ ...m, vocab_size: 21128 });
  const cases: Array<[ModelDims, number]> = [
    [chinese(PRESETS['bert-tiny']), 3_186_226],
    [chinese(PRESETS['bert-medium']), 36_377_650],
    [chinese(BASE), 101_792_306],
  ];
  for (const [m, want] of cases) assert.equal(exactTerms(m, run(), hfTraits()).params, want);
  // refit's entity-start head is Linear(2h, n): 50·768 fewer weights than the hf grid's Linear(3h, n); its pooler
  // (h² + h) stays on the device untrained: in the weights, not in gradients or optimizer states
  const r = exactTerms(chinese(BASE), run(), refitTraits());
  assert.equal(r.params, 101_792_306 - 50 * 768 + 768 * 768 + 768);
  assert.equal(r.weights - r.gradients, roundAlloc(4 * 768 * 768) + roundAlloc(4 * 768));
});

test('the allocator rounds each block up to 512 bytes (minimum 512)', () => {
  assert.deepEqual([1, 511, 512, 513, 4096, 4097].map(roundAlloc), [512, 512, 512, 1024, 4096, 4608]);
});

test('hf weights = Σ 512-rounded fp32 tensors + position/token-type buffers = the measured first base_alloc of bert-tiny', () => {
  // h200-hf-bert-public.jsonl line 1: base_alloc 12,753,408 (before any cuBLAS workspace existed)
  const x = exactTerms({ ...PRESETS['bert-tiny'], vocab_size: 21128 }, run(), hfTraits());
  assert.equal(x.weights, 12_753_408);
});

test('model states: grads 4 B, AdamW 8 B, foreach temporary 4 B per param; fused none; SGD momentum only', () => {
  const x = exactTerms(BASE, run(), hfTraits());
  const w = tensorBytes(paramTensors(BASE, { concat: 3, pooler: false, num_labels: 50 }), 4);
  assert.equal(x.gradients, w);
  assert.equal(x.optimizer, 2 * w);
  assert.equal(x.optimizer_temp, w);
  const fused = exactTerms(BASE, run({ optimizer: 'adamw-fused' }), hfTraits());
  assert.equal(fused.optimizer_temp, 0);
  assert.equal(
    fused.optimizer,
    2 * w + 512 * paramTensors(BASE, { concat: 3, pooler: false, num_labels: 50 }).length,
  );
  const sgd = exactTerms(BASE, run({ optimizer: 'sgd' }), hfTraits());
  assert.deepEqual([sgd.optimizer, sgd.optimizer_temp], [w, 0]);
  // refit has two param groups (decay / no decay): the temporary is the larger group, below all params
  const r = exactTerms(BASE, run(), refitTraits());
  assert.ok(r.optimizer_temp < r.gradients && r.optimizer_temp > 0.99 * r.gradients);
});

test('frozen layers carry no gradients or optimizer states', () => {
  const all = exactTerms(BASE, run(), hfTraits());
  const frozen = exactTerms(BASE, run({ freeze_layers: 6 }), hfTraits());
  assert.equal(frozen.weights, all.weights);
  assert.ok(frozen.gradients < 0.45 * all.gradients);
  assert.equal(frozen.optimizer, 2 * frozen.gradients);
});

test('autocast copies: 2 B per Linear param under fp16/bf16, none in fp32; with checkpointing only the recomputed top layer + head', () => {
  const lin = paramTensors(BASE, { concat: 3, pooler: false, num_labels: 50 }).filter((t) => t.linear);
  assert.equal(exactTerms(BASE, run(), hfTraits()).autocast_fwd, 0);
  assert.equal(exactTerms(BASE, run({ precision: 'bf16' }), hfTraits()).autocast_fwd, tensorBytes(lin, 2));
  const ck = exactTerms(BASE, run({ precision: 'fp16', grad_checkpointing: true }), hfTraits());
  assert.equal(
    ck.autocast_fwd,
    tensorBytes(
      lin.filter((t) => t.layer >= 11),
      2,
    ),
  );
  assert.equal(ck.autocast_all, tensorBytes(lin, 2));
});

test('checkpointing saves one fp32 (b, s, h) input per layer; inputs are int64 ids + mask + 3 per-example ints', () => {
  const ck = exactTerms(BASE, run({ grad_checkpointing: true, batch_size: 32, seq_len: 512 }), hfTraits());
  assert.equal(ck.checkpoints, 12 * 32 * 512 * 768 * 4);
  assert.equal(ck.inputs, 2 * 32 * 512 * 8 + 3 * 512);
});
