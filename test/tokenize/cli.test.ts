// `refit tokenize` through the CLI entry point: JSON lines in, ids out; bad lines give FILE:LINE and exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { EN_VOCAB, NEEDS_SHARED, ZH_VOCAB } from './helpers.ts';

async function run(argv: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const input = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (d) => {
    o += d;
  });
  err.on('data', (d) => {
    e += d;
  });
  input.end(stdin);
  const dir = mkdtempSync(path.join(tmpdir(), 'refit-tok-'));
  const code = await main(
    argv,
    { stdout: out, stderr: err, stdin: input },
    { HOME: dir, REFIT_LOG: path.join(dir, 'refit.log') },
  );
  return { code, out: o, err: e };
}

test(
  'tokenize reads stdin and prints ids per line (lower-cased by default)',
  { skip: NEEDS_SHARED },
  async () => {
    const r = await run(
      ['tokenize', '--vocab', EN_VOCAB],
      '{"id":"a","text":"Hello, World!"}\n\n{"id":7,"text":"HELLO"}\n',
    );
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    assert.equal(r.out, '{"id":"a","ids":[7592,1010,2088,999]}\n{"id":7,"ids":[7592]}\n');
  },
);

test('tokenize --cased --input FILE keeps case', { skip: NEEDS_SHARED }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'refit-tok-'));
  const file = path.join(dir, 'in.jsonl');
  writeFileSync(file, '{"id":1,"text":"Hello 北京"}\n');
  const lower = await run(['tokenize', '--vocab', ZH_VOCAB, '--input', file]);
  const cased = await run(['tokenize', '--vocab', ZH_VOCAB, '--cased', '--input', file]);
  assert.equal(lower.out, '{"id":1,"ids":[8701,1266,776]}\n');
  assert.equal(cased.out, '{"id":1,"ids":[100,1266,776]}\n');
});

test(
  'a bad JSON line is FILE:LINE and exit 2, earlier lines already printed',
  { skip: NEEDS_SHARED },
  async () => {
    const r = await run(['tokenize', '--vocab', EN_VOCAB], '{"id":1,"text":"ok"}\n{"id":2,"text":\n');
    assert.equal(r.code, 2);
    assert.equal(r.out, '{"id":1,"ids":[7929]}\n');
    assert.match(r.err, /^refit: <stdin>:2: not valid JSON \(.*\); expected \{"id": …, "text": "…"\}\n$/);
    const m = await run(['tokenize', '--vocab', EN_VOCAB], '{"id":1}\n');
    assert.equal(m.code, 2);
    assert.equal(m.err, 'refit: <stdin>:1: field "text" is missing or not a string\n');
  },
);

test('a missing vocab or input file is one line, exit 2', async () => {
  const r = await run(['tokenize', '--vocab', 'no-such-vocab.txt']);
  assert.equal(r.code, 2);
  assert.equal(r.err, 'refit: no-such-vocab.txt: cannot read the vocabulary (ENOENT)\n');
});

test('a missing --input file is one line, exit 2', { skip: NEEDS_SHARED }, async () => {
  const r = await run(['tokenize', '--vocab', EN_VOCAB, '--input', 'no-such-input.jsonl']);
  assert.equal(r.code, 2);
  assert.equal(r.err, 'refit: no-such-input.jsonl: cannot read the input (ENOENT)\n');
});
