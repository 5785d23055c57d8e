// The LoRA lever in the planner: what it prices (adapters and the head train, the base stays without gradients or
// optimizer states), fit using it only with --allow lora and then at the bytes `refit plan --lora-rank` prices, the
// issue's cards (BERT-large at 512 on 4 GB, BERT-base at 512 on 2 GB), and --resume refusing a model.lora change.
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { runInProcess } from '../cli/in-process.ts';
import { PRESETS, planConfig, plainConfig, type ModelDims } from '../../src/memory/index.ts';
import { exactTerms, refitTraits } from '../../src/memory/profiles/index.ts';
import { checkResumeChanges } from '../../src/run/resume-config.ts';
import { resolveConfig } from '../../src/config/index.ts';
import { planFlagsOf } from './fit-plan-flags.ts';

const ENV = { REFIT_NO_COLOR: '1' };
// offload kept off for fit: it is an exact lever, so with it fit would not need LoRA (test/memory/offload-plan.test.ts)
const MODEL = (name: 'bert-base' | 'bert-large'): string[] => [
  '--model',
  name,
  '--vocab-size',
  '21128',
  '--effective-batch',
  '32',
  '--seq-len',
  '512',
  '--offload',
  'none',
];

async function json(args: string[]): Promise<Record<string, any>> {
  const r = await runInProcess([...args, '--json'], ENV);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('LoRA prices gradients and AdamW states for the adapters and the head only; the base weights stay', () => {
  const model: ModelDims = { ...PRESETS['bert-base'], vocab_size: 21128 };
  const shape = (lora_rank?: number) =>
    planConfig({
      config: plainConfig({ batch_size: 8, max_seq_len: 128, lora_rank }),
      facts: { engine: 'refit' },
      model,
    }).shape.run;
  const full = exactTerms(model, shape(), refitTraits());
  const lora = exactTerms(model, shape(8), refitTraits());
  const h = model.hidden_size;
  const L = model.num_hidden_layers;
  // query and value: A (8 × h) and B (h × 8) each, in every layer, fp32 and 512-byte rounded
  const adapters = L * 2 * 2 * 8 * h;
  assert.equal(lora.params - full.params, adapters);
  assert.equal(lora.weights - full.weights, adapters * 4);
  const head = 2 * h * 50 + 50; // entity-start: Linear(2h, 50 relations)
  const round = (n: number) => Math.ceil((n * 4) / 512) * 512;
  assert.equal(lora.gradients, L * 4 * round(8 * h) + round(2 * h * 50) + round(50));
  assert.equal(lora.optimizer, 2 * lora.gradients);
  assert.ok(head < 1e5 && lora.gradients < full.gradients / 100);
  // activations are kept for every adapted layer: x·A per target (b·s·r fp32), nothing else new without dropout
  assert.equal(lora.lora_activations, L * 2 * round(8 * 128 * 8));
  const dropped = exactTerms(model, { ...shape(8), lora_dropout: 0.1 }, refitTraits());
  assert.equal(dropped.lora_activations - lora.lora_activations, L * 2 * (round(8 * 128 * h) + 8 * 128 * h));
});

test('LoRA under fp16/bf16 holds the frozen base in 16 bits: half its weight bytes, no autocast copy of it', () => {
  const model: ModelDims = { ...PRESETS['bert-base'], vocab_size: 21128 };
  const run = (precision: 'fp32' | 'fp16' | 'bf16', lora_rank?: number) => ({
    ...planConfig({
      config: plainConfig({ batch_size: 8, max_seq_len: 128, lora_rank, precision }),
      facts: { engine: 'refit' },
      model,
    }).shape.run,
  });
  const terms = (precision: 'fp32' | 'fp16' | 'bf16', rank?: number) =>
    exactTerms(model, run(precision, rank), refitTraits());
  const fp32 = terms('fp32', 8);
  for (const p of ['fp16', 'bf16'] as const) {
    const half = terms(p, 8);
    const trained = half.gradients; // the adapters and the head, fp32 (their gradients have their bytes)
    // the frozen rest (all but the trained tensors) at 2 bytes instead of 4: about half the fp32 weights
    assert.ok(Math.abs(half.weights - trained - (fp32.weights - trained) / 2) < 2 ** 20, p);
    // autocast caches 16-bit copies of the adapters and the head's Linear only, not of the base
    assert.ok(half.autocast_fwd < trained, `${p}: ${half.autocast_fwd}`);
    assert.ok(terms(p).autocast_fwd > 50 * half.autocast_fwd, 'full fine-tuning caches every Linear');
  }
  // without LoRA nothing changes: fp32 weights whatever the precision
  assert.equal(terms('fp16').weights, terms('fp32').weights);
});

test('fit uses LoRA only with --allow lora; BERT-large at 512 then fits 4 GB at the bytes refit plan prices', async () => {
  const exact = await json(['fit', ...MODEL('bert-large'), '--gpu', '4GB']);
  assert.equal(exact.fits, false);
  for (const c of [exact, ...exact.alternatives]) assert.equal(c.config.lora_rank, 0);
  const allowed = await json(['fit', ...MODEL('bert-large'), '--gpu', '4GB', '--allow', 'lora']);
  assert.equal(allowed.fits, true);
  const c = allowed.config;
  assert.equal(c.lora_rank, 8);
  const plan = await json(['plan', ...MODEL('bert-large').slice(0, 4), ...planFlagsOf(c)]);
  assert.equal(plan.peak_device_bytes, allowed.peak_device_bytes);
  assert.equal(plan.config.lora_rank, 8);
  // fit --write FILE writes model.lora.rank, and refit plan -c FILE prices the same run
  const file = join(mkdtempSync(join(tmpdir(), 'refit-lora-fit-')), 'fit.yaml');
  await json(['fit', ...MODEL('bert-large'), '--gpu', '4GB', '--allow', 'lora', '--write', file]);
  const written = await json(['plan', '-c', file, '--model', 'bert-large', '--vocab-size', '21128']);
  assert.equal(written.peak_device_bytes, allowed.peak_device_bytes);
  // model.lora.rank=8 in the config (no --allow): kept as the config's, and it fits too
  const set = await json(['fit', ...MODEL('bert-large'), '--gpu', '4GB', 'model.lora.rank=8']);
  assert.equal(set.fits, true);
  assert.equal(set.config.lora_rank, 8);
});

test('BERT-base at 512 fits a 2 GB card with --allow lora (and not without)', async () => {
  assert.equal((await json(['fit', ...MODEL('bert-base'), '--gpu', '2GB'])).fits, false);
  const r = await json(['fit', ...MODEL('bert-base'), '--gpu', '2GB', '--allow', 'lora']);
  assert.equal(r.fits, true);
  assert.ok(r.config.lora_rank > 0);
});

test('--resume refuses a model.lora change, saying why', () => {
  const stored = resolveConfig({ overrides: ['model.lora.rank=8'] });
  for (const o of ['model.lora.rank=4', 'model.lora.alpha=32', 'model.lora.targets=[query,key,value]']) {
    const asked = resolveConfig({ overrides: ['model.lora.rank=8', o] });
    assert.throws(
      () => checkResumeChanges(stored, asked, '/runs/x'),
      (e: Error) => e.message.includes(o.split('=')[0]) && e.message.includes('which weights train'),
      o,
    );
  }
});
