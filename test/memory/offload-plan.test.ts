// memory.offload in the planner: the device bytes each mode takes off, the host bytes it adds (refit plan shows
// them), its speed cost from the card's host link, and fit using it only when nothing else fits: BERT-large at 512
// on 8 GB fits with exact levers only, at the bytes refit plan prices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInProcess } from '../cli/in-process.ts';
import {
  GPUS,
  PRESETS,
  fitConfig,
  hostLink,
  offloadMs,
  plainConfig,
  planConfig,
  resolveGpu,
  type Offload,
} from '../../src/memory/index.ts';
import { roundAlloc } from '../../src/memory/params.ts';
import { refitTraits } from '../../src/memory/profiles/refit.ts';
import { STREAM_IN_FLIGHT_BYTES, exactTerms } from '../../src/memory/profiles/terms.ts';
import { planFlagsOf } from './fit-plan-flags.ts';

const ENV = { REFIT_NO_COLOR: '1' };
const LARGE = { ...PRESETS['bert-large'], vocab_size: 21128 };
const FIT = ['--model', 'bert-large', '--vocab-size', '21128', '--effective-batch', '32', '--seq-len', '512'];

function planOf(offload: Offload, o: { checkpointing?: boolean; batch?: number } = {}) {
  const config = plainConfig({
    batch_size: o.batch ?? 4,
    max_seq_len: 512,
    precision: 'fp16',
    grad_checkpointing: o.checkpointing ?? false,
    offload,
  });
  return planConfig({ config, facts: { engine: 'refit' }, model: LARGE, gpu: resolveGpu('RTX 3070') }).plan;
}

test('optimizer offload: no states or foreach temporary on the device; states, fp32 copy and gradients on the host', () => {
  const none = planOf('none');
  const opt = planOf('optimizer');
  assert.equal(none.host, undefined, 'no host bytes without offload');
  assert.equal(opt.breakdown.optimizer, 0);
  assert.equal(opt.breakdown.weights, none.breakdown.weights, 'the weights stay on the device');
  const h = opt.host!;
  assert.equal(h.optimizer, none.breakdown.optimizer, 'the AdamW states move as they are');
  assert.equal(h.master_weights * 2, h.optimizer, 'fp32 copy: half of two fp32 states');
  assert.equal(h.gradients, h.master_weights);
  assert.equal(h.activations, 0);
  assert.equal(h.total, h.optimizer + h.master_weights + h.gradients);
  assert.ok(
    opt.peak_device_bytes < none.peak_device_bytes - h.optimizer * 0.9,
    'the states leave the device',
  );
});

test('optimizer offload streams the gradients: the device keeps the copies in flight and the one being produced', () => {
  const run = {
    engine: 'refit' as const,
    mode: 'train' as const,
    batch_size: 4,
    seq_len: 512,
    precision: 'fp16' as const,
    attention: 'sdpa' as const,
    grad_checkpointing: false,
    optimizer: 'adamw' as const,
    num_labels: 10,
  };
  const none = exactTerms(LARGE, run, refitTraits());
  const opt = exactTerms(LARGE, { ...run, offload: 'optimizer' }, refitTraits());
  // the largest trainable tensor: the word embeddings' gradient, in fp32
  const largest = roundAlloc(4 * LARGE.vocab_size * LARGE.hidden_size);
  assert.equal(opt.gradients, Math.max(STREAM_IN_FLIGHT_BYTES, largest) + largest);
  assert.ok(opt.gradients < none.gradients / 5, 'a small part of the whole gradient');
  assert.equal(opt.host.gradients, none.gradients, 'the host holds all of it');
  // never more than all the gradients (a model whose tensors are all small)
  const tiny = { ...PRESETS['bert-tiny'], vocab_size: 1000 };
  const t = exactTerms(tiny, { ...run, offload: 'optimizer' }, refitTraits());
  assert.equal(t.gradients, exactTerms(tiny, run, refitTraits()).gradients);
});

test('activation offload: one layer of saved activations and no checkpoints on the device, the rest on the host', () => {
  const none = planOf('none');
  const act = planOf('activations');
  assert.equal(act.breakdown.optimizer, none.breakdown.optimizer, 'the optimizer stays');
  assert.ok(act.host!.activations > 0 && act.host!.optimizer === 0);
  assert.ok(act.breakdown.activations < none.breakdown.activations / 5, 'one of 24 layers kept');
  // a batch whose checkpoints outweigh the gradients: the peak is at the start of backward
  const ckpt = planOf('none', { checkpointing: true, batch: 64 });
  const both = planOf('activations', { checkpointing: true, batch: 64 });
  assert.equal(ckpt.peak_phase, 'backward');
  assert.ok(both.breakdown.activations < ckpt.breakdown.activations, 'the checkpoints leave the device');
  const all = planOf('all');
  assert.equal(all.host!.total, planOf('optimizer').host!.total + act.host!.activations);
  // inference keeps nothing on the host
  const infer = planConfig({
    config: plainConfig({ batch_size: 4, max_seq_len: 512, offload: 'all' }),
    facts: { engine: 'refit', mode: 'infer' },
    model: LARGE,
  }).plan;
  assert.equal(infer.host, undefined);
});

test('refit plan --offload shows the host bytes (text and --json); one process of refit only', async () => {
  const args = [
    'plan',
    '--model',
    'bert-large',
    '--vocab-size',
    '21128',
    '--batch-size',
    '1',
    '--seq-len',
    '512',
  ];
  const text = await runInProcess([...args, '--offload', 'all', '--gpu', '8GB'], ENV);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /all offloaded/);
  assert.match(text.stdout, /\nhost memory \(offload all; pinned on CUDA\):\n {2}optimizer +2\.42 GiB\n/);
  assert.match(text.stdout, /\n {2}total +\d+\.\d+ GiB\n/);
  const json = await runInProcess([...args, '--offload', 'optimizer', '--json'], ENV);
  const p = JSON.parse(json.stdout);
  assert.equal(p.config.offload, 'optimizer');
  assert.equal(p.host.optimizer, 2 * p.host.master_weights);
  const plain = JSON.parse((await runInProcess([...args, '--json'], ENV)).stdout);
  assert.equal(plain.config.offload, 'none');
  assert.equal(plain.host, undefined);
  const ranks = await runInProcess([...args, '--offload', 'all', '--nproc', '2'], ENV);
  assert.equal(ranks.code, 2);
  assert.match(ranks.stderr, /offload runs in refit's worker with one process/);
});

test('host links: every known card has one (x8 cards, PCIe 5 on Hopper), a card given by its size PCIe 3.0 x16', () => {
  for (const g of Object.values(GPUS)) assert.match(g.host_link!, /^PCIe [345]\.0 x(8|16)$/, g.name);
  assert.equal(GPUS['RTX 4060'].host_link, 'PCIe 4.0 x8');
  assert.equal(GPUS['H100'].host_link, 'PCIe 5.0 x16');
  assert.deepEqual(hostLink(resolveGpu('8GB')), { link: 'PCIe 3.0 x16', gbs: 0.985 * 16 * 0.8 });
  assert.ok(hostLink(GPUS['RTX 3070']).gbs > hostLink(GPUS['RTX 4060']).gbs);
  // the same offload costs more over a slower link, and the activations' copies recur with every micro-batch
  const host = planOf('all').host;
  assert.ok(offloadMs(host, GPUS['RTX 4060'], 1) > offloadMs(host, GPUS['RTX 3070'], 1));
  assert.ok(offloadMs(host, GPUS['RTX 3070'], 8) > offloadMs(host, GPUS['RTX 3070'], 1));
  assert.equal(offloadMs(undefined, GPUS['RTX 3070'], 8), 0);
});

test('fit: BERT-large at 512 fits 8 GB with exact levers only (offload), at the bytes refit plan prices', async () => {
  const r = await runInProcess(['fit', ...FIT, '--gpu', '8GB', '--json'], ENV);
  assert.equal(r.code, 0, r.stderr);
  const fit = JSON.parse(r.stdout);
  assert.equal(fit.fits, true);
  const c = fit.config;
  assert.notEqual(c.offload, 'none');
  assert.equal(c.freeze_layers, 0, 'nothing that changes the numerics');
  const plan = await runInProcess(['plan', ...FIT.slice(0, 4), ...planFlagsOf(c), '--json'], ENV);
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(JSON.parse(plan.stdout).peak_device_bytes, fit.peak_device_bytes);
});

test('fit uses offload only when nothing fits without it, and never with several ranks', () => {
  const config = plainConfig({ batch_size: 32, max_seq_len: 512 });
  const base = { ...PRESETS['bert-base'], vocab_size: 21128 };
  const roomy = fitConfig({ config, facts: { engine: 'refit' }, model: base, gpu: resolveGpu('RTX 3090') });
  assert.equal(roomy.config.offload, 'none');
  const fitting = [roomy, ...roomy.alternatives];
  const firstOffload = fitting.findIndex((c) => c.config.offload !== 'none');
  if (firstOffload >= 0)
    assert.ok(
      fitting.slice(firstOffload).every((c) => c.config.offload !== 'none'),
      'offload ranks last',
    );
  // BERT-base at 512 on a 2 GB card: only with offload
  const small = fitConfig({ config, facts: { engine: 'refit' }, model: base, gpu: resolveGpu('2GB') });
  assert.equal(small.fits, true);
  assert.notEqual(small.config.offload, 'none');
  const two = fitConfig({
    config: plainConfig({ batch_size: 32, max_seq_len: 512, nproc_per_node: 2 }),
    facts: { engine: 'refit' },
    model: LARGE,
    gpu: resolveGpu('8GB'),
  });
  for (const c of [two, ...two.alternatives]) assert.equal(c.config.offload, 'none');
});
