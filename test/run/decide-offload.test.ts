// memory.offload in train's decision (plan.json): memory: auto on CUDA uses it when nothing fits without it and
// plans the host bytes; a value set is kept; what offload keeps in host memory is checked against the host's RAM
// before any tensor is made, as the device is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig } from '../../src/config/index.ts';
import { PRESETS, hostStepBytes } from '../../src/memory/index.ts';
import { decideMemory } from '../../src/run/index.ts';
import { availableRam } from '../../src/run/decide.ts';

const GPU = {
  cuda: true,
  device_count: 1,
  bf16: true,
  sdpa: true,
  fused_adamw: true,
  device_name: 'NVIDIA H200',
  total_memory: 150e9,
};
const LENGTHS = Int32Array.from({ length: 3000 }, (_, i) => 40 + ((i * 53) % 470));
const large = { ...PRESETS['bert-large'], vocab_size: 21128 };
const decide = (o: string[], dims = large, device = 'cuda') =>
  decideMemory({
    config: resolveConfig({
      overrides: ['model.preset=bert-large', 'train.batch_size=32', 'memory.max_seq_len=512', ...o],
    }),
    dims,
    caps: device === 'cuda' ? GPU : { ...GPU, cuda: false, device_count: 0 },
    device,
    lengths: LENGTHS,
    num_labels: 11,
  });

test('cuda auto on an 8 GB budget: BERT-large at 512 with offload, its host bytes planned', () => {
  const p = decide(['memory.budget=8GB']);
  assert.notEqual(p.decision.offload, 'none');
  assert.equal(p.plan!.config.offload, p.decision.offload);
  assert.ok(p.plan!.host!.total > 0);
  assert.ok(p.plan!.peak_device_bytes <= 8e9);
  // a roomy card needs none; a value set is kept
  assert.equal(decide([]).decision.offload, 'none');
  assert.equal(decide(['memory.budget=8GB', 'memory.offload=none']).decision.offload, 'none');
});

test('manual: the offload set is the decision and the plan', () => {
  const p = decide(['memory.mode=manual', 'memory.micro_batch_size=4', 'memory.offload=all']);
  assert.equal(p.decision.offload, 'all');
  assert.ok(p.plan!.host!.optimizer > 0 && p.plan!.host!.activations > 0);
  assert.equal(p.plan!.breakdown.optimizer, 0);
});

test("what offload keeps in host memory is checked against the host's RAM (CUDA) and counted in the peak (CPU)", () => {
  // about 9.7 B parameters: 16 bytes each on the host with optimizer offload, far over this machine's RAM
  const huge = {
    ...large,
    hidden_size: 4096,
    num_attention_heads: 32,
    intermediate_size: 16384,
    num_hidden_layers: 48,
  };
  const o = [
    'memory.mode=manual',
    'memory.micro_batch_size=1',
    'memory.precision=bf16',
    'memory.offload=optimizer',
  ];
  assert.throws(
    () => decide(o, huge),
    (e: Error & { code?: string }) =>
      e.code === 'E_MEMORY_PLAN' &&
      /^memory\.offload=optimizer keeps [\d.]+ GiB in host memory but this machine's available RAM is /.test(
        e.message,
      ),
  );
  assert.ok(availableRam() < 150e9, 'this check assumes less than 150 GB of free RAM');
  // CPU: the device is the host, so the run's peak is the device's plus what offload keeps aside
  const cpu = [
    'memory.mode=manual',
    'memory.micro_batch_size=1',
    'memory.offload=optimizer',
    'memory.budget=4GB',
  ];
  assert.throws(
    () => decide(cpu, large, 'cpu'),
    (e: Error) => /^the run is planned at [\d.]+ GiB peak/.test(e.message),
  );
  assert.doesNotThrow(() => decide([...cpu.slice(0, 3), 'memory.budget=12GB'], large, 'cpu'));
});

test('a step of several micro-batches under optimizer offload also keeps its staged gradients on the host', () => {
  const o = ['memory.mode=manual', 'memory.micro_batch_size=1', 'memory.offload=optimizer'];
  const roomy = decide([...o, 'memory.budget=64GB'], large, 'cpu');
  assert.ok(roomy.decision.grad_accumulation > 1);
  const p = roomy.plan!;
  const host = p.host!;
  assert.equal(hostStepBytes(host, 1), host.total);
  assert.equal(hostStepBytes(host, roomy.decision.grad_accumulation), host.total + host.gradients);
  // a budget that holds one micro-batch's host bytes but not the staging set the second one adds
  const between = (p.peak_allocated_bytes + host.total + host.gradients / 2) / 2 ** 30;
  assert.throws(
    () => decide([...o, `memory.budget=${between.toFixed(3)}GiB`], large, 'cpu'),
    (e: Error) => /^the run is planned at [\d.]+ GiB peak/.test(e.message),
  );
});
