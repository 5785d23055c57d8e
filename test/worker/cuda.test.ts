// GPU-only paths of the worker (fp16 + GradScaler, bf16, fused AdamW, SDPA fused kernels with the padding
// mask, a real OOM under a budget recovered with `continue`). Skips on machines without CUDA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO, testPython } from './helpers.ts';

const python = await testPython();

test(
  'CUDA checks (worker/python/tests/check_cuda.py)',
  { skip: !python && 'needs a python3 with torch' },
  (t) => {
    const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_cuda.py')], {
      env: { ...process.env, PYTHONPATH: join(REPO, 'worker/python') },
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (run.status === 2) {
      t.skip('no CUDA GPU visible to torch');
      return;
    }
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr.slice(-2000)}`);
  },
);
