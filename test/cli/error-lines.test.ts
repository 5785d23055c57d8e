// The one-line errors of issue 22's smaller items, through the real command line: a layer count the model does not
// have, a REFIT_PYTHON that is not there, and `refit predict --output` on a full disk (here /dev/full).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { CLI, NO_CLI, cachedTinyRun, demoDataArgs, writeDemoData } from '../web/tiny-run.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'refit-lines-'));

function train(extra: string[], env: Record<string, string | undefined> = process.env) {
  const d = dir();
  const data = writeDemoData(d);
  const args = [
    CLI,
    'train',
    ...demoDataArgs(data),
    'model.preset=bert-tiny',
    ...extra,
    '--out',
    join(d, 'run'),
  ];
  return { ...spawnSync(process.execPath, args, { encoding: 'utf8', env }), out: join(d, 'run') };
}

test(
  "model.num_hidden_layers above the model's own count: exit 2, one line, nothing trained",
  { skip: NO_CLI },
  () => {
    const r = train(['model.num_hidden_layers=1000000']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(
      r.stderr,
      'refit: model.num_hidden_layers=1000000: bert-tiny has 2 encoder layers; keep at most 2 (or leave it unset for ' +
        'all of them)\n',
    );
    assert.ok(!existsSync(join(r.out, 'model')));
  },
);

test(
  'REFIT_PYTHON=/nonexistent: one line naming it, no other interpreter used in its place',
  { skip: NO_CLI },
  () => {
    const r = train(['train.epochs=1'], { ...process.env, REFIT_PYTHON: '/nonexistent' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /^refit: no Python with PyTorch found \(tried REFIT_PYTHON=\/nonexistent: not (found|executable); no other/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
  },
);

test(
  'refit predict --output on a full disk: one line naming the output file, exit 1',
  { skip: NO_CLI },
  async () => {
    const run = cachedTinyRun();
    const d = dir();
    const output = join(d, 'preds.jsonl');
    // The output is written to OUTPUT.tmp-PID first: here that name leads to /dev/full (ENOSPC on every write).
    symlinkSync('/dev/full', `${output}.tmp-${process.pid}`);
    const out = new PassThrough();
    const err = new PassThrough();
    let e = '';
    err.on('data', (x) => (e += x));
    out.resume();
    const code = await main(
      [
        'predict',
        '--run',
        run,
        '--engine',
        'torch',
        '--text',
        'Maya Okafor was born in Porto.',
        '--head',
        'Maya Okafor',
        '--tail',
        'Porto',
        '--output',
        output,
      ],
      { stdout: out, stderr: err, stdin: new PassThrough() },
      { ...process.env, REFIT_LOG: join(d, 'refit.log') },
    );
    assert.equal(e, `refit: ${output}: no space left on the device (ENOSPC)\n`);
    assert.equal(code, 1);
    assert.ok(!existsSync(output), 'no output file');
    assert.ok(!readdirSync(d).some((f) => f.includes('.tmp-')), 'no temporary file left');
  },
);
