// `refit plan` and `refit fit` through the built binary: JSON shapes, text verdicts, config + flags, --write,
// and the bad-input contract (one line on stderr, exit 2). Needs `npm run build` (scripts/test.sh does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.ts';

const CLI = new URL('../../bin/refit.mjs', import.meta.url).pathname;
const skip = !existsSync(new URL('../../dist/refit.mjs', import.meta.url)) && 'needs npm run build';
const BASE_JSON = new URL('../../../shared/golden/memory/configs/base.json', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'refit-plan-cli-'));
const refit = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, REFIT_LOG: join(tmp, 'refit.log') },
  });

test('plan --json has every field of the issue, fits/budget with --gpu', { skip }, () => {
  const r = refit(
    'plan',
    '--engine',
    'hf',
    '--model',
    'bert-base',
    '--vocab-size',
    '21128',
    '--batch-size',
    '32',
    '--seq-len',
    '512',
    '--precision',
    'fp32',
    '--attention',
    'eager',
    '--gpu',
    'RTX 3060',
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  for (const k of [
    'engine',
    'mode',
    'config',
    'params',
    'peak_allocated_bytes',
    'peak_reserved_bytes',
    'peak_device_bytes',
    'breakdown',
    'peak_phase',
    'budget_bytes',
    'fits',
  ])
    assert.ok(k in p, k);
  assert.deepEqual(Object.keys(p.breakdown), [
    'weights',
    'gradients',
    'optimizer',
    'autocast_copies',
    'activations',
    'transients',
    'workspace',
    'context',
    'allocator_slack',
  ]);
  assert.deepEqual(
    [p.engine, p.mode, p.config.batch_size, p.config.seq_len, p.config.model.vocab_size, p.fits],
    ['hf', 'train', 32, 512, 21128, false],
  );
  assert.ok(p.peak_allocated_bytes > 20 * 2 ** 30 && p.peak_allocated_bytes < 22 * 2 ** 30);
  assert.ok(
    Number.isInteger(p.peak_device_bytes) &&
      p.peak_device_bytes > p.peak_reserved_bytes &&
      p.peak_reserved_bytes >= p.peak_allocated_bytes,
  );
});

test(
  'plan text: a table and a one-line verdict; the config file and key=value are read, flags win',
  { skip },
  () => {
    const cfg = join(tmp, 'run.yaml');
    writeFileSync(
      cfg,
      'model:\n  preset: bert-mini\ntrain:\n  batch_size: 16\nmemory:\n  max_seq_len: 128\n  precision: bf16\n',
    );
    const r = refit('plan', '-c', cfg, 'memory.max_seq_len=64', '--batch-size', '8', '--gpu', 'T4');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /refit train: BERT L=4 h=256 heads=4 vocab=30522, batch 8 × seq 64, bf16, sdpa/);
    assert.match(r.stdout, /peak device/);
    assert.match(r.stdout.trimEnd().split('\n').at(-1)!, /^verdict: fits T4 \(14\.75 GiB\)/);
    const inf = JSON.parse(refit('plan', '--mode', 'infer', '--model', 'bert-tiny', '--json').stdout);
    assert.deepEqual(
      [inf.mode, inf.peak_phase, inf.breakdown.gradients, 'fits' in inf],
      ['infer', 'forward', 0, false],
    );
  },
);

test(
  'fit --json: keeps the effective batch, lists alternatives with their cost; --write writes a valid config',
  { skip: skip || (!existsSync(BASE_JSON) && 'needs ../shared (golden model configs)') },
  () => {
    const out = join(tmp, 'fitted.yaml');
    const r = refit(
      'fit',
      '--gpu',
      'RTX 3060',
      '--effective-batch',
      '32',
      '--seq-len',
      '512',
      '--model',
      BASE_JSON,
      '--write',
      out,
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
    const f = JSON.parse(r.stdout);
    for (const k of [
      'micro_batch_size',
      'grad_accumulation',
      'precision',
      'attention',
      'grad_checkpointing',
      'seq_len',
    ])
      assert.ok(k in f.config, k);
    assert.equal(f.config.micro_batch_size * f.config.grad_accumulation, 32);
    assert.equal(f.fits, true);
    assert.ok(
      f.alternatives.length > 0 &&
        'predicted_examples_per_s' in f.alternatives[0] &&
        'peak_device_bytes' in f.alternatives[0],
    );
    const cfg = resolveConfig({ file: out, overrides: [] });
    assert.deepEqual(
      [
        cfg.memory.mode,
        cfg.memory.micro_batch_size,
        cfg.memory.grad_accumulation,
        cfg.train.batch_size,
        cfg.memory.precision,
      ],
      ['manual', f.config.micro_batch_size, f.config.grad_accumulation, 32, f.config.precision],
    );
    const text = refit('fit', '--gpu', '12GB', '--effective-batch', '32', '--seq-len', '256');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout.trimEnd().split('\n').at(-1)!, /^verdict: micro-batch \d+ × \d+ accumulation/);
  },
);

test('bad input: one clear line on stderr and exit 2', { skip }, () => {
  const badModel = join(tmp, 'config.json');
  writeFileSync(
    badModel,
    JSON.stringify({ hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 10 }),
  );
  const cases: Array<[string[], RegExp]> = [
    [['plan', '--model', badModel], /hidden_size 768 is not divisible by num_attention_heads 10/],
    [
      ['plan', '--model', 'bert-base', '--seq-len', '1024'],
      /sequence length 1024 is above the model's max_position_embeddings 512/,
    ],
    [['plan', '--gpu', 'RTX 3O60'], /unknown GPU 'RTX 3O60'; did you mean 'RTX 3060'\?/],
    [['plan', '--gpu', '12XB'], /cannot read size '12XB'/],
    [['fit', '--gpu', 'RTX 3O60'], /did you mean 'RTX 3060'/],
    [['fit', '--gpu', 'twelve gigs'], /unknown GPU 'twelve gigs'/],
    [['fit', '--gpu', '8GB', '--seq-len', '600'], /above the model's max_position_embeddings 512/],
    [['plan', '--batch-size', 'abc'], /--batch-size abc: expected an integer ≥ 1/],
    [['plan', '--precision', 'fp8'], /--precision fp8: expected one of fp32, fp16, bf16/],
    [['fit', '--seq-len', '128'], /give the card with --gpu/],
    [['plan', '--model', 'bert-huge'], /unknown model 'bert-huge'/],
  ];
  for (const [args, re] of cases) {
    const r = refit(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, got ${r.stderr}`);
    assert.match(lines[0], /^refit: /);
    assert.match(lines[0], re, args.join(' '));
  }
});

test(
  'fit --lengths-from: real lengths give dynamic padding, a smaller worst case and a higher throughput; bad files are one line',
  { skip },
  () => {
    const lens = join(tmp, 'lengths.txt');
    writeFileSync(lens, Array.from({ length: 500 }, (_, i) => 20 + (i % 90)).join('\n'));
    const dyn = JSON.parse(
      refit(
        'fit',
        '--gpu',
        'RTX 3060',
        '--effective-batch',
        '32',
        '--seq-len',
        '512',
        '--lengths-from',
        lens,
        '--json',
      ).stdout,
    );
    const max = JSON.parse(
      refit('fit', '--gpu', 'RTX 3060', '--effective-batch', '32', '--seq-len', '512', '--json').stdout,
    );
    assert.equal(dyn.config.padding, 'dynamic');
    assert.ok(
      dyn.peak_device_bytes < max.peak_device_bytes &&
        dyn.predicted_examples_per_s > max.predicted_examples_per_s,
    );
    writeFileSync(lens, '12\n7x\n');
    const bad = refit('fit', '--gpu', '12GB', '--lengths-from', lens);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /lengths.txt: item 2 '7x' is not a positive integer length/);
  },
);

test('fit --write failing leaves nothing behind', { skip }, () => {
  const r = refit('fit', '--gpu', '12GB', '--write', join(tmp, 'no-such-dir', 'x.yaml'));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot write/);
  assert.equal(existsSync(join(tmp, 'no-such-dir')), false);
  assert.ok(readFileSync(join(tmp, 'refit.log'), 'utf8').length > 0);
});
