// Planning one rank of several (issue 12, item 4): the zero1 optimizer term is the ddp one divided by the world size (up
// to the rounding of the shards) for every preset, fsdp shards every model state, the plan's peak is the rank's, and
// `refit plan --nproc N --strategy S --json` carries the per-rank breakdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PRESETS, planMemory, type RunShape } from '../../src/memory/index.ts';

const run = (o: Partial<RunShape> = {}): RunShape => ({ engine: 'refit', mode: 'train', batch_size: 8, seq_len: 128, precision: 'bf16', attention: 'sdpa',
  grad_checkpointing: false, optimizer: 'adamw', num_labels: 10, ...o });

test('zero1 optimizer states = ddp ÷ world size (up to shard rounding) for every preset and world size', () => {
  for (const [name, model] of Object.entries(PRESETS)) {
    for (const world of [2, 3, 4, 8]) {
      const ddp = planMemory({ model, run: run({ ranks: world, strategy: 'ddp' }) }).per_rank!;
      const zero = planMemory({ model, run: run({ ranks: world, strategy: 'zero1' }) }).per_rank!;
      assert.ok(Math.abs(zero.optimizer * world - ddp.optimizer) < world, `${name} × ${world}: ${zero.optimizer} × ${world} vs ${ddp.optimizer}`);
      assert.equal(zero.weights, ddp.weights, name);
      assert.equal(zero.gradients, ddp.gradients, name);
    }
  }
});

test('ddp per rank holds the single-process states, its gradients all step long (bucket views); fsdp shards them and adds the gathered units', () => {
  const model = PRESETS['bert-large'];
  const one = planMemory({ model, run: run() });
  const ddp = planMemory({ model, run: run({ ranks: 4, strategy: 'ddp' }) });
  const fsdp = planMemory({ model, run: run({ ranks: 4, strategy: 'fsdp' }) });
  const r = ddp.per_rank!;
  assert.equal(r.optimizer, one.breakdown.optimizer);
  assert.equal(r.ddp_buckets, 0, 'the gradients are the buckets: no second set');
  const f = fsdp.per_rank!;
  assert.ok(f.weights * 4 - r.weights < 4 && f.optimizer * 4 - r.optimizer < 4);
  assert.ok(f.fsdp_gathered > 0 && f.fsdp_prefetch > 0 && f.ddp_buckets === 0);
  assert.ok(fsdp.peak_allocated_bytes < ddp.peak_allocated_bytes);
  assert.ok(ddp.peak_allocated_bytes > one.peak_allocated_bytes, 'gradients held during the first backward cost memory');
});

test('refit plan --nproc 2 --strategy zero1 --json has the per-rank breakdown', () => {
  const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
  const out = JSON.parse(execFileSync(process.execPath, [CLI, 'plan', '--model', 'bert-base', '--batch-size', '8', '--seq-len', '128', '--nproc', '2', '--strategy', 'zero1', '--json'], { encoding: 'utf8' }).trim() || '{}');
  assert.equal(out.per_rank?.world, 2);
  assert.equal(out.per_rank?.strategy, 'zero1');
  assert.equal(out.config.ranks, 2);
});
