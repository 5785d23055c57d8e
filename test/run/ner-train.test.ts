// task: ner end to end through the CLI and the real worker on Weibo NER: `refit train task=ner data.train=…` trains
// the token head, and the entity scores in metrics.json equal an independent seqeval-mode scoring (metrics/ner.ts's
// spanMetrics) of `refit predict`'s code-point spans on the test file; a worker killed mid-run resumes from its last
// checkpoint; a bad NER line is one line naming file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entitySpans, readNerDataset } from '../../src/data/index.ts';
import { spanMetrics } from '../../src/metrics/index.ts';
import { runInProcess } from '../cli/in-process.ts';
import { readEvents, readMetrics, runEnv } from './helpers.ts';

const SHARED = new URL('../../../shared/', import.meta.url).pathname;
const WEIBO = join(SHARED, 'assets/weibo-ner');
const VOCAB = join(SHARED, 'assets/bert-vocab/google_zh_vocab.txt');
const skip =
  !existsSync(join(WEIBO, 'train.txt')) && 'needs ../shared (Weibo NER and the Chinese BERT vocabulary)';
const base = mkdtempSync(join(tmpdir(), 'refit-ner-train-'));
const env = runEnv() as Record<string, string>;

/** bert-tiny from random init on the Chinese vocabulary, CPU, no ONNX export; `extra` last. */
const nerArgs = (data: { train: string; valid?: string; test?: string }, extra: string[] = []) => [
  'task=ner',
  `data.train=${data.train}`,
  ...(data.valid ? [`data.valid=${data.valid}`] : []),
  ...(data.test ? [`data.test=${data.test}`] : []),
  'model.preset=bert-tiny',
  `model.vocab=${VOCAB}`,
  'memory.max_seq_len=64',
  'device=cpu',
  'export.onnx=false',
  '--threads',
  '1',
  ...extra,
];

/** The first `n` sentences of a DeepKE `char TAG` file, written as a file of its own. */
function head(file: string, n: number, name: string): string {
  const blocks = readFileSync(file, 'utf8')
    .split(/\n\s*\n/)
    .filter((b) => b.trim());
  const out = join(base, name);
  writeFileSync(out, blocks.slice(0, n).join('\n\n') + '\n');
  return out;
}

test(
  "train task=ner on Weibo NER: metrics.json's entity scores equal seqeval-mode scoring of predict's spans",
  { skip },
  async () => {
    const run = join(base, 'weibo');
    const test_file = join(WEIBO, 'test.txt');
    const t = await runInProcess(
      [
        'train',
        ...nerArgs({ train: join(WEIBO, 'train.txt'), test: test_file }, [
          'train.epochs=1',
          'train.batch_size=32',
          'train.learning_rate=5e-3',
        ]),
        '--out',
        run,
      ],
      env,
    );
    assert.equal(t.code, 0, t.stderr);
    const m = readMetrics(run);
    const refit = JSON.parse(readFileSync(join(run, 'model/refit.json'), 'utf8'));
    assert.equal(refit.task, 'ner');
    assert.equal(refit.head, 'token');
    assert.equal(refit.tags[0], 'O');
    assert.equal(typeof m.test.entity.micro_f1, 'number');

    const preds = join(base, 'weibo-test.jsonl');
    const p = await runInProcess(
      ['predict', '--run', run, '--input', test_file, '--output', preds, '--threads', '1'],
      env,
    );
    assert.equal(p.code, 0, p.stderr);
    const gold = await readNerDataset({ path: test_file });
    const lines = readFileSync(preds, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, gold.sentences.length);
    const pred = lines.map((l, i) => {
      assert.equal(l.text, gold.sentences[i].text);
      for (const e of l.entities) assert.equal([...l.text].slice(e.start, e.end).join(''), e.text);
      return l.entities.map((e: { type: string; start: number; end: number }) => e);
    });
    const scored = spanMetrics({ gold: gold.sentences.map((s) => entitySpans(s)), pred });
    // the same counts, so the same ratios bit for bit (both are the one blockOf of integer counts)
    assert.deepEqual(scored, m.test.entity);
  },
);

test(
  "a model that predicts entities: predict's spans scored as seqeval does equal metrics.json",
  { skip },
  async () => {
    // 16 sentences learnt by heart (no dropout, 40 epochs) and scored on themselves: many predicted entities, so the
    // equality below is about real spans, not two empty sets
    const data = head(join(WEIBO, 'train.txt'), 16, 'train-16.txt');
    const run = join(base, 'memorised');
    const args = ['train.epochs=40', 'train.batch_size=4', 'train.learning_rate=2e-3', 'model.dropout=0'];
    const t = await runInProcess(['train', ...nerArgs({ train: data, test: data }, args), '--out', run], env);
    assert.equal(t.code, 0, t.stderr);
    const m = readMetrics(run);
    assert.ok(m.test.entity.predicted > 0 && m.test.entity.correct > 0, JSON.stringify(m.test.entity));
    const preds = join(base, 'memorised.jsonl');
    const p = await runInProcess(['predict', '--run', run, '--input', data, '--output', preds], env);
    assert.equal(p.code, 0, p.stderr);
    const gold = await readNerDataset({ path: data });
    const pred = readFileSync(preds, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).entities);
    assert.deepEqual(spanMetrics({ gold: gold.sentences.map((s) => entitySpans(s)), pred }), m.test.entity);
  },
);

test(
  'a worker killed during NER training restarts from the last checkpoint and finishes',
  { skip },
  async () => {
    const train = head(join(WEIBO, 'train.txt'), 96, 'train-96.txt');
    const run = join(base, 'crash');
    const t = await runInProcess(
      ['train', ...nerArgs({ train }, ['train.epochs=2', 'train.batch_size=16']), '--out', run],
      { ...env, REFIT_INJECT_CRASH: '8' },
    );
    assert.equal(t.code, 0, t.stderr);
    const restart = readEvents(run).filter((e) => e.event === 'restart');
    assert.equal(restart.length, 1);
    assert.equal(restart[0].step, 8);
    assert.equal(readMetrics(run).train.optimizer_steps, 12);
  },
);

test('a bad line in an NER file is one line naming file:line; nothing is left behind', { skip }, async () => {
  const good = head(join(WEIBO, 'train.txt'), 4, 'train-4.txt');
  const lines = readFileSync(good, 'utf8').split('\n');
  lines[2] = `${lines[2].split(' ')[0]} B-PER.NAM EXTRA`;
  const bad = join(base, 'bad.txt');
  writeFileSync(bad, lines.join('\n'));
  const run = join(base, 'bad-run');
  const t = await runInProcess(['train', ...nerArgs({ train: bad }), '--out', run], env);
  assert.equal(t.code, 2, t.stderr);
  const first = t.stderr.split('\n')[0];
  assert.match(first, new RegExp(`^refit: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: `));
  assert.ok(!existsSync(join(run, 'config.yaml')));
});
