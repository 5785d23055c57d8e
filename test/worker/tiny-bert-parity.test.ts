// Golden parity: the worker's BERT reproduces Hugging Face's tiny-bert outputs and probe-loss gradients
// (../shared/golden/tiny-bert) from both model.safetensors and pytorch_model.bin, and loads it over the protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfigJson } from '../../src/worker/index.ts';
import { expectEvent, REPO, SHARED, startWorker, testPython, tinyLoad } from './helpers.ts';

const GOLDEN = join(SHARED, 'golden', 'tiny-bert');
const python = await testPython();
const skip =
  (!existsSync(GOLDEN) && 'needs ../shared (golden/tiny-bert)') || (!python && 'needs a python3 with torch');

interface FileResult {
  last_hidden_state: number;
  pooler_output: number;
  loss_rel: number;
  grad_norms_failed: string[];
  grad_query0_max_abs: number;
  params_checked: number;
}

test('last_hidden_state, pooler_output and probe gradients match HF from both weight files', { skip }, () => {
  const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_parity.py'), GOLDEN], {
    env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
    encoding: 'utf8',
  });
  assert.ok(run.stdout, run.stderr);
  const result = JSON.parse(run.stdout) as Record<string, FileResult> & { ok: boolean };
  for (const file of ['model.safetensors', 'pytorch_model.bin']) {
    const r = result[file];
    // fp32 eval mode: the same maths in a different summation order stays within 1e-5 (measured ~1e-6).
    assert.ok(r.last_hidden_state <= 1e-5, `${file}: last_hidden_state off by ${r.last_hidden_state}`);
    assert.ok(r.pooler_output <= 1e-5, `${file}: pooler_output off by ${r.pooler_output}`);
    assert.ok(r.loss_rel <= 1e-5, `${file}: probe loss off by ${r.loss_rel} relative`);
    assert.deepEqual(r.grad_norms_failed, [], `${file}: gradient norms off`);
    assert.equal(r.params_checked, 39);
    assert.ok(
      r.grad_query0_max_abs <= 1e-5,
      `${file}: query.weight gradient off by ${r.grad_query0_max_abs}`,
    );
  }
  assert.equal(result.ok, true, run.stdout);
});

test('the golden folder loads through the protocol', { skip }, async () => {
  const config = JSON.parse(readFileSync(join(GOLDEN, 'config.json'), 'utf8')) as BertConfigJson;
  const { worker } = await startWorker();
  try {
    const ev = await expectEvent(
      worker,
      tinyLoad({ pretrained: GOLDEN, config, head: { kind: 'cls', num_labels: 2, dropout: 0.1 } }),
      'loaded',
    );
    assert.equal(
      ev.params,
      21128 * 128 +
        512 * 128 +
        2 * 128 +
        256 +
        2 * (4 * (128 * 128 + 128) + 4 * 128 + 2 * 128 * 512 + 512 + 128) +
        128 * 128 +
        128 +
        2 * 128 +
        2,
    );
  } finally {
    await worker.close();
  }
});
