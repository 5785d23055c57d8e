// Hydra composition of a DeepKE conf folder through the config surface: the defaults list and its order,
// _self_, optional, interpolation, cwd = the project folder, overrides and group switches, and every
// one-line error (a refused model, a missing group file, a `???` refit needs) with its exact text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfigDetailed, type ResolvedConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { DEEPKE_ASSET, makeDeepkeProject } from './deepke-project.ts';

const elsewhere = realpathSync(tmpdir());
const compose = (
  path: string,
  overrides: string[] = [],
  warn?: (l: string) => void,
  env?: Record<string, string>,
): ResolvedConfig => resolveConfigDetailed({ file: path, overrides, warn, cwd: elsewhere, env });

/** Asserts that composing throws a ConfigError with exactly this code and message (exit 2). */
function throwsLine(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    assert.equal(e.code, code);
    assert.equal(e.exitCode, 2);
    return true;
  });
}

test("DeepKE's standard-RE conf folder composes into the run DeepKE trains", () => {
  const project = makeDeepkeProject();
  const warnings: string[] = [];
  const { config: c, hydra } = compose(join(project, 'conf'), [], (l) => warnings.push(l));
  assert.ok(hydra);
  assert.deepEqual(hydra.choices, { model: 'lm' });
  assert.equal(hydra.project, project);
  assert.equal(
    c.model.pretrained,
    join(project, 'bert-base-chinese'),
    "lm_file is read from DeepKE's cwd, the project folder",
  );
  assert.equal(c.model.num_hidden_layers, 1);
  assert.equal(c.model.head, 'deepke-lm', "model_name: lm is DeepKE's LM head");
  assert.deepEqual(c.model.rnn, {
    type: 'LSTM',
    hidden_size: 100,
    num_layers: 1,
    bidirectional: true,
    last_layer_hn: true,
    dropout: 0.3,
  });
  assert.equal(c.train.batch_size, 32);
  assert.equal(c.train.epochs, 50);
  assert.equal(c.train.learning_rate, 3e-4);
  assert.equal(c.train.seed, 1);
  assert.equal(c.data.num_relations, 11);
  assert.equal(
    c.data.folder,
    join(project, 'data', 'origin'),
    'data_path: data/origin is under the project folder, not the process cwd',
  );
  assert.equal(c.device, 'auto');
  assert.equal(c.device_ids, undefined, 'use_multi_gpu: False');
  // Nothing about Hydra's own keys, the LSTM keys, or keys only DeepKE's other models read; one line per reason for the rest.
  for (const w of warnings) {
    assert.doesNotMatch(
      w,
      /defaults|hydra|'cwd'|type_rnn|hidden_size|num_layers|bidirectional|last_layer_hn|dropout|use_multi_gpu|gpu_ids|word_dim/,
      w,
    );
  }
  const conf = join(project, 'conf');
  assert.ok(
    warnings.includes(
      `${conf}: ignoring DeepKE keys lr_factor, lr_patience: refit uses linear warmup and decay`,
    ),
    warnings.join('\n'),
  );
  assert.ok(
    warnings.includes(
      `${conf}: ignoring DeepKE keys show_plot, only_comparison_plot, plot_utils, predict_plot: see report.html`,
    ),
    warnings.join('\n'),
  );
});

test('-c conf/config.yaml and -c PROJECT compose the same as -c conf/', () => {
  const project = makeDeepkeProject();
  const folder = compose(join(project, 'conf')).config;
  assert.deepEqual(compose(join(project, 'conf', 'config.yaml')).config, folder);
  assert.deepEqual(compose(project).config, folder);
});

test(
  "the data folder is the DeepKE sample through the project's data/origin",
  { skip: DEEPKE_ASSET ? false : 'no ../shared/assets/deepke-re-standard' },
  () => {
    const project = makeDeepkeProject();
    const c = compose(join(project, 'conf')).config;
    assert.equal(realpathSync(c.data.folder!), realpathSync(DEEPKE_ASSET!));
  },
);

test('composition order: Hydra 1.0 (defaults override the primary config) unless _self_ is placed', () => {
  const base = { 'config.yaml': 'batch_size: 8\ndefaults:\n  - train\n  - model: lm\n' };
  assert.equal(
    compose(join(makeDeepkeProject(base), 'conf')).config.train.batch_size,
    32,
    'no _self_: train.yaml wins (Hydra 1.0)',
  );
  const selfLast = { 'config.yaml': 'batch_size: 8\ndefaults:\n  - train\n  - model: lm\n  - _self_\n' };
  assert.equal(
    compose(join(makeDeepkeProject(selfLast), 'conf')).config.train.batch_size,
    8,
    '_self_ last: the primary config wins',
  );
  const selfFirst = { 'config.yaml': 'defaults:\n  - _self_\n  - train\n  - model: lm\nbatch_size: 8\n' };
  assert.equal(compose(join(makeDeepkeProject(selfFirst), 'conf')).config.train.batch_size, 32);
  // Later entries win over earlier ones; a group file's own defaults list is composed where it stands.
  const later = {
    'config.yaml': 'defaults:\n  - train\n  - small\n  - model: lm\n',
    'small.yaml': 'defaults:\n  - _self_\n  - tiny\nbatch_size: 16\n',
    'tiny.yaml': 'batch_size: 4\n',
  };
  assert.equal(compose(join(makeDeepkeProject(later), 'conf')).config.train.batch_size, 4);
});

test('optional entries: a missing file is skipped (Hydra 1.0 and 1.1 forms); without optional it is an error', () => {
  const v10 = { 'config.yaml': 'defaults:\n  - train\n  - model: lm\n  - site: local\n    optional: true\n' };
  assert.equal(compose(join(makeDeepkeProject(v10), 'conf')).config.train.batch_size, 32);
  const v11 = { 'config.yaml': 'defaults:\n  - train\n  - model: lm\n  - optional site: local\n' };
  assert.equal(compose(join(makeDeepkeProject(v11), 'conf')).config.train.batch_size, 32);
  const present = { ...v11, 'site/local.yaml': 'batch_size: 12\n' };
  assert.equal(
    compose(join(makeDeepkeProject(present), 'conf')).config.train.batch_size,
    12,
    'an optional file that exists is read',
  );
});

test('interpolations: ${key}, ${cwd}, ${hydra:runtime.cwd}, ${env:…}; ${now:…} is harmless', () => {
  const project = makeDeepkeProject({
    'preprocess.yaml': "data_path: '${cwd}/data/origin'\nout_path: 'data/out/${now:%Y-%m-%d}'\n",
    'model/lm.yaml':
      "model_name: lm\nbert_home: /models\nlm_file: '${bert_home}/chinese-bert-wwm'\nnum_hidden_layers: ${layers}\nlayers: 3\n",
    'train.yaml': 'batch_size: ${env:BATCH,24}\nepoch: ${env:EPOCHS}\nseed: 1\n',
    'config.yaml': 'cwd: ???\ndefaults:\n  - preprocess\n  - train\n  - model: lm\n',
  });
  // bert_home and layers are not DeepKE keys: an interpolation may refer to any key of the composed conf
  const { config: c } = compose(
    join(project, 'conf'),
    ['~bert_home', '~layers', 'lm_file=/models/chinese-bert-wwm', 'num_hidden_layers=3'],
    undefined,
    { EPOCHS: '7' },
  );
  assert.equal(c.data.folder, join(project, 'data', 'origin'));
  assert.equal(c.model.pretrained, '/models/chinese-bert-wwm');
  assert.equal(c.model.num_hidden_layers, 3);
  assert.equal(c.train.batch_size, 24, 'the default of ${env:BATCH,24}, typed as an integer');
  assert.equal(c.train.epochs, 7);
  const hydraCwd = makeDeepkeProject({ 'preprocess.yaml': 'data_path: ${hydra:runtime.cwd}/data/origin\n' });
  assert.equal(compose(join(hydraCwd, 'conf')).config.data.folder, join(hydraCwd, 'data', 'origin'));
});

test('an interpolation that does not resolve is an error only where refit needs the value', () => {
  const project = makeDeepkeProject({
    'model/lm.yaml': "model_name: lm\nlm_file: '${bert_home}/chinese-bert-wwm'\ninput_size: ${bert_dim}\n",
  });
  const file = join(project, 'conf', 'model', 'lm.yaml');
  throwsLine(
    () => compose(join(project, 'conf')),
    'E_CONFIG_MISSING',
    `${file}:2: lm_file uses \${bert_home}, but no conf file sets bert_home: set it in ${file} or on the command line (lm_file=VALUE)`,
  );
  assert.equal(
    compose(join(project, 'conf'), ['lm_file=/models/bert']).config.model.pretrained,
    '/models/bert',
    'input_size is ignored, so ${bert_dim} is never needed',
  );
});

test('overrides as DeepKE users type them: flat keys win over the conf, group switches pick the file', () => {
  const project = makeDeepkeProject({
    'model/lm_wwm.yaml':
      'model_name: lm\nlm_file: /models/chinese-bert-wwm\nnum_hidden_layers: 12\nhidden_size: 200\n',
  });
  const conf = join(project, 'conf');
  const { config: c } = compose(conf, [
    'lm_file=/models/chinese-bert-wwm',
    'num_hidden_layers=12',
    'batch_size=16',
    'model=lm',
    'train.epochs=5',
    'device=cpu',
  ]);
  assert.equal(c.model.pretrained, '/models/chinese-bert-wwm');
  assert.equal(c.model.num_hidden_layers, 12);
  assert.equal(c.train.batch_size, 16);
  assert.equal(c.train.epochs, 5, 'refit keys apply after the conf, as in a refit config');
  assert.equal(c.device, 'cpu');
  const switched = compose(conf, ['model=lm_wwm']);
  assert.deepEqual(switched.hydra?.choices, { model: 'lm_wwm' });
  assert.equal(switched.config.model.num_hidden_layers, 12);
  assert.equal(switched.config.model.rnn.hidden_size, 200);
  // +key adds, ~key removes, a typed relative path is read from where it was typed
  const more = compose(conf, ['+max_seq_len=128', '~num_relations', 'data_path=other/data']).config;
  assert.equal(more.memory.max_seq_len, 128);
  assert.equal(more.data.num_relations, undefined);
  assert.equal(more.data.folder, join(elsewhere, 'other', 'data'));
  // use_multi_gpu: DataParallel over gpu_ids (DeepKE's default 0,1)
  assert.deepEqual(compose(conf, ['use_multi_gpu=true']).config.device_ids, [0, 1]);
  const multi = compose(conf, ['use_multi_gpu=true', 'gpu_ids=1,2,3']).config;
  assert.deepEqual(
    [multi.device_ids, multi.device],
    [[1, 2, 3], 'cuda:1'],
    "DeepKE's main device is the first of gpu_ids",
  );
  assert.equal(
    compose(conf, ['use_multi_gpu=true', 'use_gpu=false']).config.device_ids,
    undefined,
    'on the CPU there is no DataParallel',
  );
  assert.equal(
    compose(conf, ['model.head=entity-start']).config.model.head,
    'entity-start',
    'model.head given wins over model_name: lm',
  );
});

test('a group option refit does not train is refused with one line saying which one it trains', () => {
  const project = makeDeepkeProject();
  const conf = join(project, 'conf');
  for (const model of ['cnn', 'rnn', 'gcn', 'capsule', 'transformer']) {
    throwsLine(
      () => compose(conf, [`model=${model}`]),
      'E_CONFIG_HYDRA',
      `model=${model}: refit trains DeepKE's lm model only (BERT + BiLSTM); use model=lm`,
    );
  }
  const inFile = makeDeepkeProject({ 'config.yaml': 'defaults:\n  - train\n  - model: cnn\n' });
  throwsLine(
    () => compose(join(inFile, 'conf')),
    'E_CONFIG_HYDRA',
    `${join(inFile, 'conf', 'config.yaml')}:3: model: cnn: refit trains DeepKE's lm model only (BERT + BiLSTM); use model=lm`,
  );
  assert.equal(
    compose(join(inFile, 'conf'), ['model=lm']).config.model.head,
    'deepke-lm',
    'the command line switches it back',
  );
});

test('a missing group or config file is one line with the file and the entry', () => {
  const project = makeDeepkeProject({ 'model/lm.yaml': null });
  const conf = join(project, 'conf');
  throwsLine(
    () => compose(conf),
    'E_CONFIG_HYDRA',
    `${join(conf, 'config.yaml')}:11: model: lm: no such config file ${join(conf, 'model', 'lm.yaml')} (model options: cnn, rnn)`,
  );
  const other = join(makeDeepkeProject(), 'conf');
  throwsLine(
    () => compose(other, ['model=bert']),
    'E_CONFIG_HYDRA',
    `model=bert: no such config file ${join(other, 'model', 'bert.yaml')} (model options: cnn, lm, rnn)`,
  );
  const noTrain = makeDeepkeProject({ 'train.yaml': null });
  throwsLine(
    () => compose(join(noTrain, 'conf')),
    'E_CONFIG_HYDRA',
    `${join(noTrain, 'conf', 'config.yaml')}:8: defaults entry 'train': no such config file ${join(noTrain, 'conf', 'train.yaml')}`,
  );
  const empty = join(makeDeepkeProject(), 'empty');
  mkdirSync(empty);
  throwsLine(
    () => compose(empty),
    'E_CONFIG_FILE',
    `${empty}: a folder without config.yaml: give a config file, or a DeepKE conf folder (conf/ with config.yaml and its defaults: list)`,
  );
});

test('a ??? value refit needs is one line with the file and key; one it ignores is fine', () => {
  const project = makeDeepkeProject({
    'model/lm.yaml': 'model_name: lm\nlm_file: ???\nnum_hidden_layers: 1\n',
  });
  const file = join(project, 'conf', 'model', 'lm.yaml');
  throwsLine(
    () => compose(join(project, 'conf')),
    'E_CONFIG_MISSING',
    `${file}:2: lm_file is ??? (a mandatory value no conf file fills in): set it in ${file} or on the command line (lm_file=VALUE)`,
  );
  assert.equal(
    compose(join(project, 'conf'), ['lm_file=/models/bert']).config.model.pretrained,
    '/models/bert',
  );
  // embedding.yaml's vocab_size: ??? and pos_size: ??? are only read by DeepKE's other models
  assert.equal(compose(join(makeDeepkeProject(), 'conf')).config.data.num_relations, 11);
});

test('bad conf input: a bad defaults entry, a package, a cycle, YAML syntax', () => {
  const bad = makeDeepkeProject({ 'config.yaml': 'defaults:\n  - train\n  - {model: lm, rnn: x}\n' });
  throwsLine(
    () => compose(join(bad, 'conf')),
    'E_CONFIG_HYDRA',
    `${join(bad, 'conf', 'config.yaml')}:3: bad defaults entry (more than one group in one entry); expected - name, - group: option or - _self_`,
  );
  const pkg = makeDeepkeProject({ 'model/lm.yaml': '# @package _group_\nmodel_name: lm\n' });
  throwsLine(
    () => compose(join(pkg, 'conf')),
    'E_CONFIG_HYDRA',
    `${join(pkg, 'conf', 'model', 'lm.yaml')}:1: '# @package _group_' is not supported: DeepKE's conf files are merged into one flat namespace (Hydra 1.0's _global_ package); remove the line`,
  );
  const cycle = makeDeepkeProject({
    'train.yaml': 'defaults:\n  - predict\nbatch_size: 32\n',
    'predict.yaml': 'defaults:\n  - train\n',
  });
  throwsLine(
    () => compose(join(cycle, 'conf')),
    'E_CONFIG_HYDRA',
    `${join(cycle, 'conf', 'train.yaml')}: the defaults lists include each other (config.yaml → train.yaml → predict.yaml → train.yaml)`,
  );
  const syntax = makeDeepkeProject({ 'train.yaml': 'batch_size: [32\n' });
  assert.throws(
    () => compose(join(syntax, 'conf')),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.code === 'E_CONFIG_YAML' &&
      e.message.startsWith(`${join(syntax, 'conf', 'train.yaml')}:`),
  );
  throwsLine(
    () => compose(join(makeDeepkeProject(), 'conf'), ['batch_size']),
    'E_CONFIG_OVERRIDE',
    "bad override 'batch_size': expected key=value (e.g. batch_size=16, model=lm, train.epochs=5)",
  );
});

test('a value from the conf that refit rejects names the conf file and line', () => {
  const project = makeDeepkeProject({ 'train.yaml': 'batch_size: 0\n' });
  throwsLine(
    () => compose(join(project, 'conf')),
    'E_CONFIG_VALUE',
    `${join(project, 'conf', 'train.yaml')}:1: batch_size (train.batch_size) must be an integer ≥ 1, got 0`,
  );
});

test('a plain YAML file without a defaults list is read as before', () => {
  const dir = makeDeepkeProject();
  const flat = join(dir, 'flat.yaml');
  writeFileSync(flat, 'batch_size: 8\nmodel_name: lm\n');
  const r = compose(flat);
  assert.equal(r.hydra, undefined);
  assert.equal(r.config.train.batch_size, 8);
});

test('a 3,000-deep chain of interpolations is one line (exit 2), not a stack overflow', () => {
  const chain =
    Array.from({ length: 3000 }, (_, i) => `a${i}: \${a${i + 1}}\n`).join('') + 'a3000: /models/bert\n';
  const project = makeDeepkeProject({ 'model/lm.yaml': "model_name: lm\nlm_file: '${a0}'\n" + chain });
  assert.throws(
    () => compose(join(project, 'conf')),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.exitCode, 2);
      assert.ok(!e.message.includes('\n'));
      assert.match(
        e.message,
        /lm_file uses \$\{a100\} after 100 interpolations in a row \(at most 100 are followed\)/,
      );
      return true;
    },
  );
});
