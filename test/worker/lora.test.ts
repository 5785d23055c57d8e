// The LoRA lever in the worker: step 0 is the base model, only the adapters and the head train, the saved folder
// is a plain BERT whose forward equals the adapter forward (1e-5), checkpoint.pt continues the adapters exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeExamples, REPO, tempDir, testPython, writeDataset } from './helpers.ts';

const python = await testPython();
const skip = !python && 'needs a python3 with torch (apt-get install python3-torch)';

test(
  'LoRA in-process: step 0 = base, adapters + head train, merged = adapter forward, exact resume',
  { skip },
  () => {
    const ds = writeDataset(join(tempDir(), 'train.refit-ds'), makeExamples(8));
    const run = spawnSync(python!, [join(REPO, 'worker/python/tests/check_lora.py'), ds], {
      env: {
        ...process.env,
        PYTHONPATH: [join(REPO, 'worker/python'), join(REPO, 'worker/python/tests')].join(':'),
      },
      encoding: 'utf8',
    });
    const out = run.stdout || `{"ok":false,"stderr":${JSON.stringify(run.stderr)}}`;
    const result = JSON.parse(out) as Record<string, unknown> & { ok: boolean };
    assert.ok(result.ok, JSON.stringify(result, null, 1));
  },
);
