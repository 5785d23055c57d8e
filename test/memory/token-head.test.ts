// The token head (task: ner) through the one planning path: the classifier's logits and loss priced per token, so
// a run with many tags plans more than the same run's relation head, and task: ner picks the head whatever
// model.head says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRESETS, planConfig, plainConfig, runShapeOf, tokenHeadBytes } from '../../src/memory/index.ts';
import { resolveConfig } from '../../src/config/index.ts';

const resolve = (overrides: string[]) => resolveConfig({ overrides, cwd: process.cwd() });
const model = { ...PRESETS['bert-base'], vocab_size: 21128 };

test('task: ner plans the token head; relation configs keep theirs', () => {
  const ner = resolve(['task=ner', 'model.preset=bert-base']);
  assert.equal(runShapeOf(ner, { engine: 'refit' }).run.head, 'token');
  const re = resolve(['model.preset=bert-base']);
  assert.equal(runShapeOf(re, { engine: 'refit' }).run.head, 'entity-start');
});

test("the token head's logits and loss grow with b·s·tags (DeepKE's #376: 128 × 128 tokens)", () => {
  for (const engine of ['refit', 'hf'] as const) {
    const plan = (num_labels: number) =>
      planConfig({
        config: plainConfig({ batch_size: 128, max_seq_len: 128, head: 'token' }),
        facts: { engine, num_labels },
        model,
      }).plan;
    const few = plan(3);
    const many = plan(29);
    // exact terms: only the head's tensors change with the tag count (the classifier's 26 more rows are tiny)
    const grew = many.peak_allocated_bytes - few.peak_allocated_bytes;
    const per_token =
      tokenHeadBytes({ tokens: 128 * 128, num_labels: 29, train: true }) -
      tokenHeadBytes({ tokens: 128 * 128, num_labels: 3, train: true });
    assert.ok(grew >= per_token, `${engine}: ${grew} < ${per_token}`);
    // 26 tags × 768 + 26 of bias, fp32 weights + grads + 2 Adam moments (+ allocator rounding, < 4 blocks of 512 B)
    assert.ok(grew - per_token <= 26 * 769 * 4 * 4 + 8 * 512, `${engine}: ${grew - per_token}`);
  }
});

test('tokenHeadBytes: inference holds the logits only', () => {
  assert.equal(tokenHeadBytes({ tokens: 1000, num_labels: 10, train: false }), 40448);
  assert.equal(tokenHeadBytes({ tokens: 1000, num_labels: 10, train: true }), 3 * 40448 + 8192);
});
