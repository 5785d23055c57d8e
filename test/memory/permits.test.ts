// Levers that change the numerics (memory.allow / `refit fit --allow`): fit keeps the config's value unless the user
// allows the lever, uses it only when no exact configuration fits, and the configuration it picks is what `refit plan`
// prices. The same rule for train's `memory: auto` (configAllow reads memory.allow).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInProcess } from '../cli/in-process.ts';
import { PRESETS, configAllow, fitConfig, plainConfig, resolveGpu } from '../../src/memory/index.ts';
import { planFlagsOf } from './fit-plan-flags.ts';

const ENV = { REFIT_NO_COLOR: '1' };
const LARGE = [
  '--model',
  'bert-large',
  '--vocab-size',
  '21128',
  '--effective-batch',
  '32',
  '--seq-len',
  '512',
];

async function fitJson(args: string[]): Promise<Record<string, any>> {
  const r = await runInProcess(['fit', ...LARGE, ...args, '--json'], ENV);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('freezing is tried only when allowed, and then fits BERT-large at 512 on 8 GB as refit plan prices it', async () => {
  // without offload (the exact lever that fits it: test/memory/offload-plan.test.ts)
  const exact = await fitJson(['--gpu', '8GB', '--offload', 'none']);
  assert.equal(exact.fits, false, 'nothing exact fits 8 GB (fp32 states of 335 M parameters)');
  for (const c of [exact, ...exact.alternatives]) assert.equal(c.config.freeze_layers, 0);

  const allowed = await fitJson(['--gpu', '8GB', '--allow', 'freeze', '--offload', 'none']);
  assert.equal(allowed.fits, true);
  const c = allowed.config;
  assert.ok(c.freeze_layers > 0 && c.freeze_layers < 24, `froze ${c.freeze_layers} of 24 layers`);
  // the chosen configuration is exactly what `refit plan` prices with the same levers
  const plan = await runInProcess(
    ['plan', ...LARGE.filter((_, i) => i < 4), ...planFlagsOf(c), '--json'],
    ENV,
  );
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(JSON.parse(plan.stdout).peak_device_bytes, allowed.peak_device_bytes);
});

test('an allowed lever is not used when an exact configuration fits', async () => {
  const exact = await fitJson(['--gpu', '80GB']);
  const allowed = await fitJson(['--gpu', '80GB', '--allow', 'freeze,lora,adamw-8bit']);
  assert.equal(exact.fits, true);
  assert.deepEqual(allowed.config, exact.config);
  assert.equal(allowed.peak_device_bytes, exact.peak_device_bytes);
});

test('memory.allow in the config is --allow; train reads it through configAllow', async () => {
  const flag = await fitJson(['--gpu', '8GB', '--allow', 'freeze', '--offload', 'none']);
  const key = await fitJson(['--gpu', '8GB', 'memory.allow=[freeze]', 'memory.offload=none']);
  assert.deepEqual(key.config, flag.config);

  // train's `memory: auto` decision: fitConfig over configAllow(config), permits from memory.allow (offload kept off)
  const config = plainConfig({ batch_size: 32, max_seq_len: 512, offload: 'none' });
  const model = { ...PRESETS['bert-large'], vocab_size: 21128 };
  const gpu = resolveGpu('8GB');
  const without = fitConfig({ config, facts: { engine: 'refit' }, model, gpu, allow: configAllow(config) });
  const withAllow = { ...config, memory: { ...config.memory, allow: ['freeze' as const] } };
  const decided = fitConfig({
    config: withAllow,
    facts: { engine: 'refit' },
    model,
    gpu,
    allow: configAllow(withAllow),
  });
  assert.equal(without.fits, false);
  assert.equal(decided.fits, true);
  assert.ok(decided.config.freeze_layers > 0);
});

test('a value the user set is kept: --freeze-layers N with --allow freeze searches nothing else', async () => {
  const r = await fitJson(['--gpu', '8GB', '--allow', 'freeze', '--freeze-layers', '6']);
  for (const c of [r, ...r.alternatives]) assert.equal(c.config.freeze_layers, 6);
});

test('bad --allow and memory.allow values are one line, exit 2', async () => {
  const flag = await runInProcess(['fit', '--gpu', '8GB', '--allow', 'lora,bogus'], ENV);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^refit: --allow bogus: expected one of adamw-8bit, lora, freeze\n$/);
  const key = await runInProcess(['plan', 'memory.allow=[lora,nope]'], ENV);
  assert.equal(key.code, 2);
  assert.equal(
    key.stderr,
    'refit: memory.allow must be a list of adamw-8bit, lora, freeze (e.g. [lora, adamw-8bit]), got [lora, nope]\n',
  );
});

test('the doctor lists the levers that change the numerics as fixes, with the peak refit plan predicts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'refit-permits-'));
  const config = join(dir, 'large.yaml');
  writeFileSync(
    config,
    // offload off: with it an exact configuration fits this card
    'model:\n  preset: bert-large\ntrain:\n  batch_size: 32\nmemory:\n  max_seq_len: 512\n  precision: fp16\n' +
      '  offload: none\n',
  );
  const log = join(dir, 'oom.log');
  writeFileSync(
    log,
    'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 192.00 MiB. GPU 0 has a total capacity of ' +
      '2.50 GiB of which 100.00 MiB is free. Of the allocated memory 5.2 GiB is allocated by PyTorch\n',
  );
  // the same card for both (the cuBLAS workspace depends on it)
  const card = ['--gpu', 'GTX 1660'];
  const r = await runInProcess(['doctor', log, '-c', config, ...card, '--json'], ENV);
  assert.equal(r.code, 0, r.stderr);
  const fixes = JSON.parse(r.stdout).fixes as Array<Record<string, any>>;
  // a card so small that nothing exact fits, offload included: the fixes change the numerics
  const frozen = fixes.filter((f) => /Changes the numerics/.test(f.detail ?? ''));
  assert.ok(frozen.length > 0, 'a fix changes the numerics');
  assert.match(
    frozen[0].detail,
    /Changes the numerics \([a-z0-9, -]+\): with memory\.allow: \[[a-z0-9, -]+\]/,
  );
  // its settings, planned by refit plan -c, give the fix's predicted peak
  const sets = Object.entries(frozen[0].config as Record<string, unknown>).map(([k, v]) => `${k}=${v}`);
  const plan = await runInProcess(['plan', '-c', config, ...sets, ...card, '--json'], ENV);
  assert.equal(plan.code, 0, plan.stderr);
  assert.equal(JSON.parse(plan.stdout).peak_device_bytes, frozen[0].predicted_peak_bytes);
  rmSync(dir, { recursive: true, force: true });
});
