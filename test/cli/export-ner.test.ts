// `refit export` of an NER run (issue 24): its summary line says what the token head's check found — the same tag as
// torch at every word of the sentences checked, and the largest score difference — not a relation count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnxCheckSummary } from '../../src/infer/index.ts';
import { runInProcess } from './in-process.ts';
import { runEnv } from '../run/helpers.ts';

const SHARED = new URL('../../../shared/', import.meta.url).pathname;
const WEIBO = join(SHARED, 'assets/weibo-ner');
const VOCAB = join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt');
const skip =
  !existsSync(join(WEIBO, 'train.txt')) && 'needs ../shared (Weibo NER and the Chinese BERT vocabulary)';

const check = { examples: 8, data: 'test.txt', max_abs_diff: 1.5e-7, tolerance: 1e-4, same_relation: 96 };

test('the check in words: relations for a relation run, tags at every word checked for an NER run', () => {
  assert.equal(
    onnxCheckSummary({ task: 're', check }),
    'on 8 examples of test.txt: max |logit diff| 1.50e-7 (≤ 0.0001), same relation 96/8',
  );
  assert.equal(
    onnxCheckSummary({ task: 'ner', check }),
    'on 8 sentences of test.txt: the same tag as torch at all 96 words checked, max |score diff| 1.50e-7 (≤ 0.0001)',
  );
});

test('refit export of a tiny NER run: the line names sentences, words and tags', { skip }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'refit-export-ner-'));
  const blocks = readFileSync(join(WEIBO, 'train.txt'), 'utf8')
    .split(/\n\s*\n/)
    .filter((b) => b.trim())
    .slice(0, 12);
  const data = join(base, 'train-12.txt');
  writeFileSync(data, blocks.join('\n\n') + '\n');
  const env = runEnv({ REFIT_LOG: join(base, 'refit.log') }) as Record<string, string>;
  const run = join(base, 'run');
  const t = await runInProcess(
    [
      'train',
      'task=ner',
      `data.train=${data}`,
      `data.test=${data}`,
      'model.preset=bert-tiny',
      `model.vocab=${VOCAB}`,
      'memory.max_seq_len=256',
      'device=cpu',
      'export.onnx=false',
      'train.epochs=1',
      '--threads',
      '1',
      '--progress',
      'none',
      '--out',
      run,
    ],
    env,
  );
  assert.equal(t.code, 0, t.stderr);
  const r = await runInProcess(['export', '--run', run], env);
  assert.equal(r.code, 0, r.stderr);
  // every character of the 12 sentences is a word checked (the window holds them all)
  const words = blocks.reduce((n, b) => n + b.split('\n').filter((l) => l.trim()).length, 0);
  assert.match(
    r.stdout,
    new RegExp(
      `^refit export: .*model\\.onnx \\(opset \\d+, [\\d.]+ MB\\); onnxruntime \\S+ vs torch \\S+ on 12 sentences of ` +
        `train-12\\.txt: the same tag as torch at all ${words} words checked, max \\|score diff\\| \\S+ \\(≤ 0\\.0001\\)\\n$`,
    ),
  );
  assert.doesNotMatch(r.stdout, /relation/);
});
