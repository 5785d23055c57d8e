// NER eval loss (issue 24): a tiny NER run through the CLI and the real worker reports, in every eval event and in
// metrics.json, the mean cross-entropy over the labelled tokens (a positive finite number, no longer null); the test
// split scored with the restored best checkpoint has the loss of that checkpoint's own valid eval (same file, same
// weights). scoreTokenTags takes the loss from the worker's reply (its per-position cross-entropy); the worker's
// values themselves are checked against plain torch in test/worker/token-head.test.ts (check_token_head.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { meanTokenLoss, scoreTokenTags } from '../../src/session/index.ts';
import { runInProcess } from '../cli/in-process.ts';
import { readEvents, readMetrics, runEnv } from './helpers.ts';

const SHARED = new URL('../../../shared/', import.meta.url).pathname;
const WEIBO = join(SHARED, 'assets/weibo-ner');
const VOCAB = join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt');
const skip =
  !existsSync(join(WEIBO, 'train.txt')) && 'needs ../shared (Weibo NER and the Chinese BERT vocabulary)';

test('scoreTokenTags: the loss is the mean of the reply’s cross-entropies over every labelled position', () => {
  const sentences = [
    { tokens: ['a', 'b'], tags: ['B-X', 'O'], text: 'ab' },
    { tokens: ['c'], tags: ['O'], text: 'c' },
  ] as never;
  const base = { sentences, tags: [[1, 0], [0]], labels: ['O', 'B-X'] };
  const m = scoreTokenTags({ ...base, nll: [[0.5, 0.25], [1.5]] });
  assert.equal(m.loss, (0.5 + 0.25 + 1.5) / 3, 'over positions, not a mean of sentence means');
  assert.ok(Number.isNaN(scoreTokenTags(base).loss), 'no reply, no loss (written as null)');
  assert.equal(meanTokenLoss([[], []]), 0);
});

test('a tiny NER run: every eval event and metrics.json carry a positive finite loss', { skip }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'refit-ner-loss-'));
  const blocks = readFileSync(join(WEIBO, 'train.txt'), 'utf8')
    .split(/\n\s*\n/)
    .filter((b) => b.trim());
  const data = join(base, 'train-24.txt');
  writeFileSync(data, blocks.slice(0, 24).join('\n\n') + '\n');
  const run = join(base, 'run');
  const t = await runInProcess(
    [
      'train',
      'task=ner',
      `data.train=${data}`,
      `data.valid=${data}`,
      `data.test=${data}`,
      'model.preset=bert-tiny',
      `model.vocab=${VOCAB}`,
      'memory.max_seq_len=64',
      'device=cpu',
      'export.onnx=false',
      'train.epochs=2',
      'train.batch_size=8',
      'model.dropout=0',
      '--threads',
      '1',
      '--out',
      run,
    ],
    runEnv() as Record<string, string>,
  );
  assert.equal(t.code, 0, t.stderr);
  const evals = readEvents(run).filter((e) => e.event === 'eval');
  assert.deepEqual(
    evals.map((e) => e.split),
    ['valid', 'valid', 'test'],
  );
  for (const e of evals)
    assert.ok(typeof e.loss === 'number' && Number.isFinite(e.loss) && e.loss > 0, JSON.stringify(e));
  // the test split is scored with the best checkpoint restored: on the same file, the loss of its valid eval
  const testEval = evals[2];
  const best = evals.find((e) => e.split === 'valid' && e.epoch === testEval.epoch)!;
  assert.ok(Math.abs(testEval.loss - best.loss) <= 1e-6, `${testEval.loss} vs ${best.loss}`);
  const m = readMetrics(run);
  const losses = JSON.stringify(m).match(/"loss":[^,}]+/g) ?? [];
  assert.ok(losses.length > 0, 'metrics.json carries the loss');
  assert.ok(!losses.some((l) => l.endsWith('null')), losses.join(' '));
});
