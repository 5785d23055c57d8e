// resolveConfig / configToYaml through the config folder's public surface: defaults, YAML + overrides,
// DeepKE aliases, and every error code on a real bad input with its exact line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CONFIG_KEYS,
  configToYaml,
  resolveConfig,
  verifyNumRelations,
  type RunConfig,
} from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'refit-config-'));
let n = 0;
/** Writes a YAML file into the test folder and returns its path. */
function yamlFile(text: string): string {
  const path = join(dir, `c${n++}.yaml`);
  writeFileSync(path, text);
  return path;
}
/** Asserts that resolving throws a ConfigError with exactly this code and message. */
function throwsLine(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    assert.equal(e.exitCode, 2);
    return true;
  });
}
const resolve = (overrides: string[], file?: string, warn?: (l: string) => void): RunConfig =>
  resolveConfig({ file, overrides, warn, cwd: dir });

test('defaults are all written out', () => {
  const c = resolve([]);
  assert.deepEqual(c.train, {
    epochs: 3,
    batch_size: 32,
    learning_rate: 2e-5,
    warmup_ratio: 0.1,
    weight_decay: 0.01,
    max_grad_norm: 1,
    seed: 42,
    early_stopping_patience: 2,
  });
  assert.equal(c.memory.mode, 'auto');
  assert.equal(c.memory.max_seq_len, 256);
  assert.equal(c.memory.grad_checkpointing, 'auto');
  assert.equal(c.memory.budget, 'auto');
  assert.equal(c.memory.allow_shorter_seq, false);
  assert.deepEqual(c.predict, { na_threshold: 0, top_k: 3 });
  assert.equal(c.device, 'auto');
  assert.equal(c.data.on_bad_row, 'error');
  assert.equal(c.model.head, 'entity-start');
});

test('learning-rate defaults: presets learn from random init, pretrained fine-tunes', () => {
  const table: Array<[string[], number]> = [
    [['model.preset=bert-tiny'], 1e-3],
    [['model.preset=bert-mini'], 1e-3],
    [['model.preset=bert-small'], 5e-4],
    [['model.preset=bert-medium'], 5e-4],
    [['model.preset=bert-base'], 1e-4],
    [['model.preset=bert-large'], 1e-4],
    [['model.pretrained=m'], 2e-5],
    [['model.preset=bert-mini', 'train.learning_rate=3e-4'], 3e-4],
  ];
  for (const [overrides, lr] of table) {
    const c = resolve(overrides);
    assert.equal(c.train.learning_rate, lr, overrides.join(' '));
    assert.equal(c.train.warmup_ratio, 0.1);
  }
});

test('YAML sections, dotted keys and overrides (overrides win, in order)', () => {
  const file = yamlFile(
    'data:\n  train: data/train.csv\n  na_label: None\nmodel:\n  preset: bert-mini\ntrain.epochs: 4\nmemory:\n  grad_checkpointing: true\n  budget: 11.75GiB\n',
  );
  const c = resolve(
    ['train.epochs=5', 'memory.precision=bf16', 'train.epochs=6', 'data.na_label=null'],
    file,
  );
  assert.equal(c.data.train, join(dir, 'data/train.csv'), 'relative to the config file');
  assert.equal(c.data.na_label, undefined, 'null unsets');
  assert.equal(c.model.preset, 'bert-mini');
  assert.equal(c.train.epochs, 6);
  assert.equal(c.memory.precision, 'bf16');
  assert.equal(c.memory.grad_checkpointing, true);
  assert.equal(c.memory.budget, '11.75GiB');
});

test('override values are YAML scalars; string keys keep numbers as text', () => {
  const c = resolve([
    'memory.allow_shorter_seq=true',
    'predict.na_threshold=0.5',
    'data.na_label=0',
    'engine.python=python3',
    'out=runs/a',
  ]);
  assert.equal(c.memory.allow_shorter_seq, true);
  assert.equal(c.predict.na_threshold, 0.5);
  assert.equal(c.data.na_label, '0');
  assert.equal(c.engine.python, 'python3', 'a bare command is not a path');
  assert.equal(c.out, join(dir, 'runs/a'), 'overrides are relative to cwd');
});

test('a DeepKE conf (train.yaml + model/lm.yaml keys, merged flat) works', () => {
  const file = yamlFile(
    [
      'cwd: ???',
      'use_wandb: False',
      'preprocess: True',
      'data_path: data/origin',
      'out_path: data/out',
      'chinese_split: True',
      'seed: 1',
      'use_gpu: True',
      'gpu_id: 0',
      'epoch: 50',
      'batch_size: 32',
      'learning_rate: 3e-4',
      'lr_factor: 0.7',
      'lr_patience: 3',
      'weight_decay: 1e-3',
      'early_stopping_patience: 6',
      'train_log: True',
      'log_interval: 10',
      'num_relations: 11',
      'model_name: lm',
      'lm_file: bert-base-chinese',
      'num_hidden_layers: 1',
      'type_rnn: LSTM',
      'input_size: 768',
      'hidden_size: 100',
      'num_layers: 1',
      'dropout: 0.3',
      'bidirectional: True',
      'last_layer_hn: True',
      'max_seq_len: 128',
    ].join('\n') + '\n',
  );
  const warnings: string[] = [];
  const c = resolve([], file, (l) => warnings.push(l));
  assert.equal(c.train.seed, 1);
  assert.equal(c.train.epochs, 50);
  assert.equal(c.train.batch_size, 32);
  assert.equal(c.train.learning_rate, 3e-4);
  assert.equal(c.train.weight_decay, 1e-3);
  assert.equal(c.train.early_stopping_patience, 6);
  assert.equal(c.data.num_relations, 11);
  assert.equal(c.data.folder, join(dir, 'data/origin'));
  assert.equal(c.model.pretrained, join(dir, 'bert-base-chinese'));
  assert.equal(c.model.num_hidden_layers, 1);
  assert.equal(c.memory.max_seq_len, 128);
  assert.equal(c.device, 'auto', 'use_gpu with gpu_id 0 = CUDA when present, else CPU, as in DeepKE');
  assert.equal(c.model.head, 'deepke-lm', "model_name: lm is DeepKE's LM model (BERT + BiLSTM)");
  assert.deepEqual(c.model.rnn, {
    type: 'LSTM',
    hidden_size: 100,
    num_layers: 1,
    bidirectional: true,
    last_layer_hn: true,
    dropout: 0.3,
  });
  assert.ok(
    warnings.includes(`${file}:13: ignoring DeepKE key 'lr_factor' (refit uses linear warmup and decay)`),
    warnings.join('\n'),
  );
  assert.ok(
    warnings.includes(`${file}:24: ignoring DeepKE key 'input_size' (taken from the model config)`),
    warnings.join('\n'),
  );
  assert.equal(warnings.length, 10);
});

test('use_gpu / gpu_id / device', () => {
  const table: Array<[string[], string]> = [
    [['use_gpu=false'], 'cpu'],
    [['use_gpu=true'], 'auto'],
    [['use_gpu=true', 'gpu_id=2'], 'cuda:2'],
    [['gpu_id=1'], 'cuda:1'],
    [['use_gpu=false', 'gpu_id=1'], 'cpu'],
    [['use_gpu=false', 'device=cuda:0'], 'cuda:0'],
    [['device=cpu'], 'cpu'],
  ];
  for (const [overrides, device] of table)
    assert.equal(resolve(overrides).device, device, overrides.join(' '));
  throwsLine(
    () => resolve(['use_gpu=maybe']),
    'E_CONFIG_VALUE',
    'use_gpu must be true or false, got "maybe"',
  );
  throwsLine(
    () => resolve(['device=gpu']),
    'E_CONFIG_VALUE',
    'device must be auto, cpu, cuda or cuda:N, got "gpu"',
  );
});

test('unknown keys name the closest valid key', () => {
  throwsLine(
    () => resolve(['train.batchsize=3']),
    'E_CONFIG_KEY',
    "unknown config key 'train.batchsize' (did you mean 'train.batch_size'?)",
  );
  throwsLine(
    () => resolve(['epochs=3']),
    'E_CONFIG_KEY',
    "unknown config key 'epochs' (did you mean 'train.epochs'?)",
  );
  throwsLine(
    () => resolve(['memory.precison=fp16']),
    'E_CONFIG_KEY',
    "unknown config key 'memory.precison' (did you mean 'memory.precision'?)",
  );
  const file = yamlFile('train:\n  epochs: 3\n  learning_rte: 0.1\n');
  throwsLine(
    () => resolve([], file),
    'E_CONFIG_KEY',
    `${file}:3: unknown config key 'train.learning_rte' (did you mean 'train.learning_rate'?)`,
  );
});

test('bad values name the key, the expected values and FILE:LINE', () => {
  const file = yamlFile('model:\n  preset: bert-mini\nmemory:\n  precision: fp64\n');
  throwsLine(
    () => resolve([], file),
    'E_CONFIG_VALUE',
    `${file}:4: memory.precision must be one of auto, fp32, fp16, bf16, got "fp64"`,
  );
  throwsLine(
    () => resolve(['train.epochs=0']),
    'E_CONFIG_VALUE',
    'train.epochs must be an integer ≥ 1, got 0',
  );
  throwsLine(
    () => resolve(['epoch=three']),
    'E_CONFIG_VALUE',
    'epoch (train.epochs) must be an integer ≥ 1, got "three"',
  );
  throwsLine(
    () => resolve(['memory.budget=12 apples']),
    'E_CONFIG_VALUE',
    'memory.budget must be auto or a size such as 11.75GiB or 12GB, got "12 apples"',
  );
  throwsLine(
    () => resolve(['model.preset=bert-huge']),
    'E_CONFIG_VALUE',
    'model.preset must be one of bert-tiny, bert-mini, bert-small, bert-medium, bert-base, bert-large, got "bert-huge"',
  );
  const listFile = yamlFile('train:\n  seed: [1, 2]\n');
  throwsLine(
    () => resolve([], listFile),
    'E_CONFIG_VALUE',
    `${listFile}:2: train.seed must be an integer from 0 to 2147483647, got [1, 2]`,
  );
  const sectionFile = yamlFile('train: 3\n');
  throwsLine(
    () => resolve([], sectionFile),
    'E_CONFIG_VALUE',
    `${sectionFile}:1: 'train' must be a mapping of train.* keys (e.g. train.epochs)`,
  );
  throwsLine(
    () => resolve(['model_name=cnn']),
    'E_CONFIG_VALUE',
    'model_name "cnn" is not supported: refit trains BERT models only (DeepKE\'s model_name lm); remove the key or set it to lm',
  );
});

test('cross-key rules', () => {
  throwsLine(
    () => resolve(['model.pretrained=/m', 'model.preset=bert-tiny']),
    'E_CONFIG_VALUE',
    'give either model.pretrained (/m) or model.preset (bert-tiny), not both',
  );
  throwsLine(
    () => resolve(['memory.micro_batch_size=4', 'memory.grad_accumulation=4']),
    'E_CONFIG_VALUE',
    'memory.micro_batch_size × memory.grad_accumulation = 4 × 4 must equal train.batch_size (32), the effective batch',
  );
  assert.equal(
    resolve(['memory.micro_batch_size=4', 'memory.grad_accumulation=4', 'batch_size=16']).memory
      .grad_accumulation,
    4,
  );
});

test('YAML syntax errors, unreadable files and bad overrides are one line', () => {
  const file = yamlFile('train:\n  epochs: 3\n\tseed: 1\n');
  throwsLine(
    () => resolve([], file),
    'E_CONFIG_YAML',
    `${file}:3: YAML syntax error: Tabs are not allowed as indentation`,
  );
  const dup = yamlFile('train:\n  epochs: 3\n  epochs: 4\n');
  throwsLine(() => resolve([], dup), 'E_CONFIG_YAML', `${dup}:3: YAML syntax error: Map keys must be unique`);
  const list = yamlFile('- a\n- b\n');
  throwsLine(
    () => resolve([], list),
    'E_CONFIG_YAML',
    `${list}:1: a config file must be a mapping of keys to values`,
  );
  throwsLine(
    () => resolve([], join(dir, 'missing.yaml')),
    'E_CONFIG_FILE',
    `${join(dir, 'missing.yaml')}: cannot read config file (ENOENT)`,
  );
  throwsLine(
    () => resolve(['train.epochs']),
    'E_CONFIG_OVERRIDE',
    "bad override 'train.epochs': expected key=value (e.g. train.epochs=5)",
  );
  assert.equal(resolve([], yamlFile('')).train.epochs, 3, 'an empty file is an empty config');
  assert.equal(
    resolve([], yamlFile('data:\ntrain:\n  epochs: 2\n')).train.epochs,
    2,
    'an empty section is allowed',
  );
  const section = yamlFile('trian:\n  epochs: 2\n');
  throwsLine(
    () => resolve([], section),
    'E_CONFIG_KEY',
    `${section}:1: unknown config section 'trian' (did you mean 'train'?)`,
  );
});

test('configToYaml writes every key and reads back to the same config', () => {
  const c = resolve([
    'model.preset=bert-mini',
    'memory.grad_checkpointing=false',
    'data.train=x.csv',
    'device=cuda:1',
  ]);
  const text = configToYaml(c);
  for (const key of CONFIG_KEYS) {
    const leaf = key.split('.').pop()!;
    assert.match(text, new RegExp(`^\\s*${leaf}:`, 'm'), key);
  }
  const again = resolve([], yamlFile(text));
  assert.deepEqual(again, c);
});

test('CONFIG_KEYS lists the documented keys', () => {
  for (const key of [
    'data.train',
    'data.na_label',
    'model.pretrained',
    'model.head',
    'train.early_stopping_patience',
    'memory.max_seq_len',
    'memory.allow_shorter_seq',
    'predict.na_threshold',
    'device',
    'engine.python',
  ]) {
    assert.ok(CONFIG_KEYS.includes(key), key);
  }
});

test('num_relations is checked against the relation set', () => {
  const relations = { names: ['None', 'a', 'b'] };
  verifyNumRelations(resolve(['num_relations=3']), relations);
  verifyNumRelations(resolve([]), relations);
  throwsLine(
    () => verifyNumRelations(resolve(['num_relations=11']), relations, 'data/relation.csv'),
    'E_CONFIG_VALUE',
    'num_relations is 11 but the relation set (data/relation.csv) has 3 relations; fix num_relations or remove it',
  );
});
