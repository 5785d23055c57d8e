// What the server shows of its machine: absolute paths become their last component; URLs, relative paths and
// arithmetic are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hidePaths, hidePathsDeep } from '../../src/serve/redact.ts';

test('absolute paths become names; URLs, relative paths and fractions stay', () => {
  const cases: Array<[string, string]> = [
    ['train: /srv/data/re/train.csv', 'train: train.csv'],
    ["cannot read '/home/ann/data/x.csv': ENOENT", "cannot read 'x.csv': ENOENT"],
    ['File "/usr/lib/python3/dist-packages/torch/nn/modules/module.py", line 3', 'File "module.py", line 3'],
    ['at /srv/runs/wwm.', 'at wwm.'],
    ['C:\\Users\\ann\\runs\\wwm', 'wwm'],
    ['~/runs/wwm/model', 'model'],
    ['open http://127.0.0.1:8080/runs now', 'open http://127.0.0.1:8080/runs now'],
    ['checkpoints/step-4', 'checkpoints/step-4'],
    ['loss / step, 1/2', 'loss / step, 1/2'],
  ];
  for (const [input, want] of cases) assert.equal(hidePaths(input), want, input);
});

test('hidePathsDeep reaches every string of a JSON value', () => {
  const v = hidePathsDeep({
    run_dir: '/srv/runs/a',
    events: [{ message: 'saved /srv/runs/a/model', n: 3 }],
    ok: true,
    none: null,
  });
  assert.deepEqual(v, { run_dir: 'a', events: [{ message: 'saved model', n: 3 }], ok: true, none: null });
});
