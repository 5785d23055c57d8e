// `refit train -c conf/ lm_file=<HF folder> epoch=1` on a DeepKE project trains DeepKE's LM model (the deepke-lm head)
// end to end on CPU with the built binary, says what it is and that its entity types leak the label, scores the test
// split with and without them, saves DeepKE's state-dict names, and `refit predict` takes DeepKE's head/tail types.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { readSafetensors, testPython } from '../worker/helpers.ts';
import {
  cliEnv,
  deepkeProject,
  ensureBuilt,
  hfFolder,
  refit,
  SKIP_REASON,
  tempDir,
} from './deepke-helpers.ts';

const skip = SKIP_REASON || (!(await testPython()) && 'needs a python3 with torch');
const dir = tempDir('refit-deepke-lm-train-');
const env = cliEnv(dir);
const run = join(dir, 'run');
let trained: Awaited<ReturnType<typeof refit>>;
let relations: string[];

before(async () => {
  if (skip) return;
  ensureBuilt();
  const project = deepkeProject(dir);
  const hf = hfFolder(dir);
  relations = readFileSync(join(project, 'data/origin/relation.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[2]);
  // DeepKE's own keys as a DeepKE user types them, plus what keeps it seconds-fast (a short window, 1 thread).
  trained = await refit(
    env,
    'train',
    '-c',
    join(project, 'conf'),
    `lm_file=${hf}`,
    'epoch=1',
    'batch_size=16',
    'use_gpu=False',
    'memory.max_seq_len=64',
    '--out',
    run,
    '--progress',
    'plain',
    '--threads',
    '1',
  );
});

describe('refit train -c conf/ with model_name: lm', { skip }, () => {
  test('trains the deepke-lm head and says once what it is and that gold types leak the label', () => {
    assert.equal(trained.status, 0, trained.stderr);
    const notes = trained.stderr.split('\n').filter((l) => l.startsWith('refit: note: '));
    assert.equal(notes.length, 2, trained.stderr);
    assert.match(
      notes[0],
      /^refit: note: model\.head=deepke-lm is DeepKE's LM model \(BERT cut to 1 layer → bidirectional LSTM → fc\); model\.head=entity-start may be better: .*no label leak.*full depth$/,
    );
    assert.match(notes[1], /gold relation.*test_without_types/);
    assert.match(trained.stdout, /^test: accuracy \d\.\d{4}/m);
    assert.match(trained.stdout, /^test without type words \(no label leak\): accuracy \d\.\d{4}/m);
  });

  test('metrics.json reports where the types came from and the test split without them', () => {
    const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
    assert.equal(m.input.head, 'deepke-lm');
    assert.equal(m.input.entity_types, 'gold-relation');
    assert.match(m.input.note, /gold relation/);
    for (const block of [m.test, m.test_without_types])
      for (const k of ['accuracy', 'macro_f1', 'micro_f1', 'per_relation']) assert.ok(k in block, k);
    assert.equal(m.train.examples_seen, 240);
  });

  test("the model folder has DeepKE's names, BERT cut to num_hidden_layers, and the RNN settings in refit.json", () => {
    const { tensors } = readSafetensors(join(run, 'model/model.safetensors'));
    const names = [...tensors.keys()];
    assert.ok(names.includes('bert.encoder.layer.0.output.dense.weight'));
    assert.ok(
      !names.some((n) => n.startsWith('bert.encoder.layer.1.')),
      'num_hidden_layers: 1 keeps one layer',
    );
    assert.ok(names.includes('bilstm.rnn.weight_ih_l0_reverse'));
    assert.equal(tensors.get('fc.weight')!.length, 11 * 100);
    assert.ok(!names.some((n) => n.startsWith('classifier.')));
    const refitJson = JSON.parse(readFileSync(join(run, 'model/refit.json'), 'utf8'));
    assert.equal(refitJson.head, 'deepke-lm');
    assert.deepEqual(refitJson.rnn, {
      type: 'LSTM',
      hidden_size: 100,
      num_layers: 1,
      bidirectional: true,
      last_layer_hn: true,
      dropout: 0.3,
    });
    assert.deepEqual(refitJson.relations, relations);
    assert.equal(refitJson.lowercase, true, "BertTokenizer's default without a tokenizer_config.json");
    const config = parse(readFileSync(join(run, 'config.yaml'), 'utf8'));
    assert.equal(config.model.head, 'deepke-lm');
    assert.equal(config.model.num_hidden_layers, 1);
  });

  test('refit predict takes --head-type/--tail-type and gives a known relation either way', async () => {
    const args = [
      'predict',
      '--run',
      run,
      '--text',
      '明朝末年抗清英雄黄得功，本姓王，安徽合肥人后改姓黄',
      '--head',
      '黄得功',
      '--tail',
      '安徽合肥',
      '--top-k',
      '11',
    ];
    for (const extra of [['--head-type', '人物', '--tail-type', '地点'], []]) {
      const r = await refit(env, ...args, ...extra);
      assert.equal(r.status, 0, r.stderr);
      const p = JSON.parse(r.stdout.trim());
      assert.ok(relations.includes(p.relation));
      assert.equal(p.top.length, 11);
    }
    const typed = JSON.parse(
      (await refit(env, ...args, '--head-type', '人物', '--tail-type', '地点')).stdout,
    );
    const plain = JSON.parse((await refit(env, ...args)).stdout);
    assert.notDeepEqual(typed.top, plain.top, 'the type words change the input');
  });
});
