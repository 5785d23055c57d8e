// 8-bit AdamW as a fit lever (permit adamw-8bit): tried only when allowed and nothing exact fits, then BERT-large at
// 512 fits 8 GB and BERT-base at 512 fits 3 GB at the bytes `refit plan --optimizer adamw-8bit` prices; zero1 shards
// its states over the ranks, fsdp does not take them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInProcess } from '../cli/in-process.ts';
import { planFlagsOf } from './fit-plan-flags.ts';

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
function planOf(model: string[], c: Record<string, any>, extra: string[] = []): Promise<Record<string, any>> {
  return cli(['plan', ...model.slice(0, 4), ...planFlagsOf(c), ...extra]);
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

test('zero1 shards adamw-8bit states over the ranks (plan prices states / ranks); plan refuses fsdp in one line', async () => {
  const plan = async (strategy: string, optimizer = 'adamw-8bit') => {
    const args = ['plan', ...BASE.slice(0, 4), '--batch-size', '4', '--optimizer', optimizer, '--nproc', '2'];
    return runInProcess([...args, '--strategy', strategy, '--json'], ENV);
  };
  const [ddp, zero1] = [await plan('ddp'), await plan('zero1')].map((r) => {
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  });
  assert.equal(zero1.per_rank.optimizer, Math.ceil(ddp.per_rank.optimizer / 2), 'the 8-bit states ÷ 2 ranks');
  assert.ok(zero1.peak_device_bytes < ddp.peak_device_bytes);
  const fsdp = await plan('fsdp');
  assert.notEqual(fsdp.code, 0);
  assert.match(
    fsdp.stderr,
    /adamw-8bit's blockwise states are not sharded by fsdp; use strategy ddp or zero1/,
  );
  // fit pairs them: BERT-large at 512 on two 5 GB cards, at the bytes plan prices for one rank
  const fit = await cli(['fit', ...LARGE, '--gpu', '5GB', '--gpus', '2', '--allow', 'adamw-8bit']);
  assert.equal(fit.fits, true);
  assert.deepEqual([fit.config.strategy, fit.config.optimizer], ['zero1', 'adamw-8bit']);
  const ranks = ['--nproc', '2', '--strategy', 'zero1'];
  assert.equal((await planOf(LARGE, fit.config, ranks)).peak_device_bytes, fit.peak_device_bytes);
});
