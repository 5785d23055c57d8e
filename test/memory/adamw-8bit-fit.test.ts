// 8-bit AdamW as a fit lever (permit adamw-8bit): tried only when allowed and nothing exact fits, then BERT-large at
// 512 fits 8 GB and BERT-base at 512 fits 3 GB at the bytes `refit plan --optimizer adamw-8bit` prices; never paired
// with a strategy that shards states (zero1, fsdp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInProcess } from '../cli/in-process.ts';

const ENV = { REFIT_NO_COLOR: '1' };
// offload kept off: an exact lever, with it fit would not need 8-bit states (test/memory/offload-plan.test.ts)
const shape = (model: string, vocab: string) => [
  ...['--model', model, '--vocab-size', vocab, '--effective-batch', '32', '--seq-len', '512'],
  ...['--offload', 'none'],
];
const LARGE = shape('bert-large', '21128');
const BASE = shape('bert-base', '21128');

async function cli(args: string[]): Promise<Record<string, any>> {
  const r = await runInProcess([...args, '--json'], ENV);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** `refit plan` of a fit's chosen configuration. */
function planOf(model: string[], c: Record<string, any>): Promise<Record<string, any>> {
  return cli([
    'plan',
    ...model.slice(0, 4),
    ...['--seq-len', '512', '--batch-size', String(c.micro_batch_size), '--precision', c.precision],
    ...['--attention', c.attention, '--grad-checkpointing', c.grad_checkpointing ? 'on' : 'off'],
    ...['--optimizer', c.optimizer],
  ]);
}

test('adamw-8bit is tried only when allowed, and then fits BERT-large at 512 on 8 GB as refit plan prices it', async () => {
  const exact = await cli(['fit', ...LARGE, '--gpu', '8GB']);
  assert.equal(exact.fits, false);
  for (const c of [exact, ...exact.alternatives]) assert.equal(c.config.optimizer, 'adamw');
  const allowed = await cli(['fit', ...LARGE, '--gpu', '8GB', '--allow', 'adamw-8bit']);
  assert.equal(allowed.fits, true);
  assert.equal(allowed.config.optimizer, 'adamw-8bit');
  assert.equal(allowed.config.freeze_layers, 0, 'only the allowed lever changes');
  assert.equal((await planOf(LARGE, allowed.config)).peak_device_bytes, allowed.peak_device_bytes);
});

test('BERT-base at 512 fits 3 GB with adamw-8bit (nothing exact does)', async () => {
  assert.equal((await cli(['fit', ...BASE, '--gpu', '3GB'])).fits, false);
  const allowed = await cli(['fit', ...BASE, '--gpu', '3GB', '--allow', 'adamw-8bit']);
  assert.equal(allowed.fits, true);
  assert.equal(allowed.config.optimizer, 'adamw-8bit');
  assert.equal((await planOf(BASE, allowed.config)).peak_device_bytes, allowed.peak_device_bytes);
});

test('an exact fit wins: BERT-base at 512 on 8 GB keeps AdamW even when adamw-8bit is allowed', async () => {
  const r = await cli(['fit', ...BASE, '--gpu', '8GB', '--allow', 'adamw-8bit']);
  assert.equal(r.fits, true);
  assert.equal(r.config.optimizer, 'adamw');
});

test('plan refuses adamw-8bit under zero1 in one line; fit never pairs them', async () => {
  const r = await runInProcess(
    [
      'plan',
      ...BASE.slice(0, 4),
      '--batch-size',
      '4',
      '--optimizer',
      'adamw-8bit',
      '--nproc',
      '2',
      '--strategy',
      'zero1',
    ],
    ENV,
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /adamw-8bit's blockwise states are not sharded by zero1 or fsdp/);
  const fit = await cli(['fit', ...LARGE, '--gpu', '8GB', '--gpus', '2', '--allow', 'adamw-8bit']);
  for (const c of [fit, ...fit.alternatives])
    assert.ok(
      !(c.config.optimizer === 'adamw-8bit' && c.config.strategy === 'zero1'),
      JSON.stringify(c.config),
    );
});
