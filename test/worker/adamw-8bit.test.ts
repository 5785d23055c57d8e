// 8-bit AdamW (memory.optimizer adamw-8bit): the worker's in-process checks (quantisation round trip, a step equal to
// a reference re-implementation and close to AdamW's, state bytes ≤ 30 % of AdamW's, an exact resume), and the
// planner pricing the states the worker really keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { paramTensors } from '../../src/memory/params.ts';
import { refitTraits } from '../../src/memory/profiles/refit.ts';
import { ADAMW_8BIT_BLOCK, adamw8bitBytes, exactTerms } from '../../src/memory/profiles/terms.ts';
import { PRESETS, plainConfig, planConfig } from '../../src/memory/index.ts';
import { makeExamples, REPO, tempDir, testPython, writeDataset } from './helpers.ts';

const python = await testPython();
const skip = !python && 'needs a python3 with torch (apt-get install python3-torch)';

// check_adamw8bit.py's MID model
const MID = {
  vocab_size: 1000,
  hidden_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 512,
  max_position_embeddings: 64,
  type_vocab_size: 2,
};

interface Checks {
  ok: boolean;
  state_bytes: { ok: boolean; ratio: number; codes_and_scales: number; tensors: number };
  [check: string]: unknown;
}

test(
  'worker: round trip to the nearest map value, a step equal to the reference and near AdamW, state ≤ 30 %, exact resume; the planner prices those states',
  { skip },
  () => {
    const dir = tempDir();
    const ds = writeDataset(join(dir, 'train.refit-ds'), makeExamples(8));
    const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_adamw8bit.py'), ds], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
    });
    const out = run.stdout || `{"ok":false,"stderr":${JSON.stringify(run.stderr)}}`;
    const result = JSON.parse(out) as Checks;
    assert.ok(result.ok, JSON.stringify(result, null, 1));
    // The same tensors the worker trains (the entity-start head: its pooler is never trained), blocked alike.
    const train = paramTensors(MID, { ...refitTraits('entity-start').head, num_labels: 3 }).filter(
      (t) => !t.frozen,
    );
    const blocks = train.map((t) => Math.ceil(t.numel / ADAMW_8BIT_BLOCK));
    assert.equal(train.length, result.state_bytes.tensors);
    assert.equal(
      blocks.reduce((s, b) => s + 2 * (b * ADAMW_8BIT_BLOCK + 4 * b), 0),
      result.state_bytes.codes_and_scales,
      'codes and scales: the planner counts what the worker keeps',
    );
    const priced = adamw8bitBytes(train).optimizer;
    // priced: the same bytes, each tensor rounded to the CUDA allocator's 512-byte blocks, and the maps on the device
    assert.ok(priced >= result.state_bytes.codes_and_scales);
    assert.ok(priced <= result.state_bytes.codes_and_scales + 4 * 512 * train.length + 4096);
  },
);

test('the planner: adamw-8bit states ≤ 30 % of AdamW on BERT-base, in the optimizer term and the plan', () => {
  const model = PRESETS['bert-base'];
  const terms = (optimizer: 'adamw' | 'adamw-8bit') =>
    exactTerms(
      model,
      {
        engine: 'refit',
        mode: 'train',
        batch_size: 8,
        seq_len: 128,
        precision: 'fp32',
        attention: 'sdpa',
        grad_checkpointing: false,
        optimizer,
        num_labels: 10,
      },
      refitTraits(),
    );
  const a = terms('adamw');
  const q = terms('adamw-8bit');
  assert.ok(q.optimizer / a.optimizer <= 0.3, `${q.optimizer / a.optimizer}`);
  assert.ok(q.optimizer / a.optimizer > 0.25);
  // the step's temporaries: three fp32 buffers of the largest tensor (the word embeddings), far below foreach AdamW's
  assert.ok(q.optimizer_temp >= 3 * 4 * model.vocab_size * model.hidden_size);
  assert.ok(q.optimizer_temp < a.optimizer_temp);
  const peak = (optimizer: 'adamw' | 'adamw-8bit') =>
    planConfig({
      config: plainConfig({ batch_size: 8, max_seq_len: 128, optimizer }),
      facts: { engine: 'refit' },
      model,
    }).plan.peak_allocated_bytes;
  assert.ok(peak('adamw') - peak('adamw-8bit') > 0.7 * a.optimizer - q.optimizer);
});
