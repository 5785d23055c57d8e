// Planning one rank of several (issue 12, item 4): the zero1 optimizer term is the ddp one divided by the world size (up
// to the rounding of the shards) for every preset, fsdp shards every model state, the plan's peak is the rank's, and
// `refit plan --nproc N --strategy S --json` carries the per-rank breakdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  PRESETS,
  fitConfig,
  plainConfig,
  planMemory,
  type FitAllow,
  type GpuSpec,
  type ModelDims,
  type RunShape,
  type Strategy,
} from '../../src/memory/index.ts';

/** fitConfig over a plain run's config on `ranks` GPUs of one kind (max padding). */
function fit(o: {
  model: ModelDims;
  gpu: GpuSpec;
  effective_batch: number;
  seq_len: number;
  ranks?: number;
  allow?: FitAllow;
  strategies?: Strategy[];
}) {
  const config = plainConfig({ batch_size: o.effective_batch, max_seq_len: o.seq_len });
  const facts = { engine: 'refit' as const, num_labels: 50, world: o.ranks ?? 1 };
  return fitConfig({ config, facts, model: o.model, gpu: o.gpu, allow: o.allow, strategies: o.strategies });
}

const run = (o: Partial<RunShape> = {}): RunShape => ({
  engine: 'refit',
  mode: 'train',
  batch_size: 8,
  seq_len: 128,
  precision: 'bf16',
  attention: 'sdpa',
  grad_checkpointing: false,
  optimizer: 'adamw',
  num_labels: 10,
  ...o,
});

test('zero1 optimizer states = ddp ÷ world size (up to shard rounding) for every preset and world size', () => {
  for (const [name, model] of Object.entries(PRESETS)) {
    for (const world of [2, 3, 4, 8]) {
      const ddp = planMemory({ model, run: run({ ranks: world, strategy: 'ddp' }) }).per_rank!;
      const zero = planMemory({ model, run: run({ ranks: world, strategy: 'zero1' }) }).per_rank!;
      assert.ok(
        Math.abs(zero.optimizer * world - ddp.optimizer) < world,
        `${name} × ${world}: ${zero.optimizer} × ${world} vs ${ddp.optimizer}`,
      );
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
  assert.ok(
    ddp.peak_allocated_bytes > one.peak_allocated_bytes,
    'gradients held during the first backward cost memory',
  );
});

test('refit plan --nproc 2 --strategy zero1 --json has the per-rank breakdown', () => {
  const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
  const out = JSON.parse(
    execFileSync(
      process.execPath,
      [
        CLI,
        'plan',
        '--model',
        'bert-base',
        '--batch-size',
        '8',
        '--seq-len',
        '128',
        '--nproc',
        '2',
        '--strategy',
        'zero1',
        '--json',
      ],
      { encoding: 'utf8' },
    ).trim() || '{}',
  );
  assert.equal(out.per_rank?.world, 2);
  assert.equal(out.per_rank?.strategy, 'zero1');
  assert.equal(out.config.ranks, 2);
});

test('fit with 4 GPUs searches strategy and per-rank micro-batch together and keeps the effective batch', () => {
  const model = PRESETS['bert-large'];
  const gpu = {
    name: '12 GB',
    memory_bytes: 12 * 2 ** 30,
    bf16: true,
    tensor16_tflops: 100,
    fp32_tflops: 30,
    bandwidth_gbs: 900,
  };
  const one = fit({ model, gpu, effective_batch: 32, seq_len: 512 });
  const four = fit({ model, gpu, effective_batch: 32, seq_len: 512, ranks: 4 });
  const c = four.config;
  assert.equal(c.ranks, 4);
  assert.ok(c.strategy === 'ddp' || c.strategy === 'zero1');
  assert.equal(c.micro_batch_size * c.grad_accumulation * 4, 32, 'effective batch kept');
  assert.ok(four.fits && four.predicted_examples_per_s > one.predicted_examples_per_s);
  assert.ok(
    [four, ...four.alternatives].every(
      (x) => x.config.micro_batch_size * x.config.grad_accumulation * 4 === 32,
    ),
  );
  assert.throws(
    () => fit({ model, gpu, effective_batch: 30, seq_len: 512, ranks: 4 }),
    /does not split evenly over 4 GPUs/,
  );
  // Where zero1 is needed: a model whose full AdamW states do not fit next to the activations.
  const tight = fit({
    model,
    gpu: { ...gpu, memory_bytes: 6.5 * 2 ** 30 },
    effective_batch: 32,
    seq_len: 128,
    ranks: 8,
    allow: { grad_checkpointing: [true] },
  });
  assert.equal(tight.config.strategy, 'zero1', JSON.stringify(tight.config));
  // fsdp only when listed; where even zero1's whole weights and gradients are too much, it is the one that fits.
  const tiny = { ...gpu, memory_bytes: 3.2 * 2 ** 30 };
  const shape = { effective_batch: 32, seq_len: 128, ranks: 8, allow: { grad_checkpointing: [true] } };
  assert.ok(!fit({ model, gpu: tiny, ...shape }).fits, 'ddp and zero1 do not fit');
  const sharded = fit({ model, gpu: tiny, ...shape, strategies: ['ddp', 'zero1', 'fsdp'] });
  assert.ok(sharded.fits && sharded.config.strategy === 'fsdp', JSON.stringify(sharded.config));
  // refit's fsdp trains in bf16 or fp32: never proposed in fp16, and a plan for it is one line.
  const noBf16 = fit({ model, gpu: { ...tiny, bf16: false }, ...shape, strategies: ['fsdp'] });
  for (const x of [noBf16, ...noBf16.alternatives]) assert.notEqual(x.config.precision, 'fp16');
  assert.throws(
    () => planMemory({ model, run: run({ ranks: 8, strategy: 'fsdp', precision: 'fp16' }) }),
    /fsdp trains in bf16 or fp32/,
  );
});
