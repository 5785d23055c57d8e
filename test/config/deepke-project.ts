// A DeepKE standard-RE project folder for tests: conf/ laid out as DeepKE's example/re/standard/conf (our own
// text, the same files and keys) and data/origin linked to ../shared/assets/deepke-re-standard when present.
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The DeepKE standard-RE sample data (3000/1000/1000 rows, 11 relations), or undefined when the assets are absent. */
export const DEEPKE_ASSET: string | undefined = (() => {
  const path = fileURLToPath(new URL('../../../shared/assets/deepke-re-standard', import.meta.url));
  return existsSync(join(path, 'relation.csv')) ? path : undefined;
})();

/** hydra/output/custom.yaml, the same in DeepKE's RE and NER examples: runs write into logs/<time>. */
export const HYDRA_OUTPUT_CUSTOM = [
  'hydra:',
  '  run:',
  '    dir: logs/${now:%Y-%m-%d_%H-%M-%S}',
  '  sweep:',
  '    dir: logs/${now:%Y-%m-%d_%H-%M-%S}',
  '    subdir: ${hydra.job.num}_${hydra.job.id}',
  '',
].join('\n');

/** The conf files of a DeepKE standard-RE project, by path under conf/. */
export const DEEPKE_CONF: Readonly<Record<string, string>> = Object.freeze({
  'config.yaml': [
    '# run.py fills this in with the folder it was started from',
    'cwd: ???',
    'use_wandb: False',
    '',
    'defaults:',
    '  - hydra/output: custom',
    '  - preprocess',
    '  - train',
    '  - embedding',
    '  - predict',
    '  - model: lm   # cnn, rnn, transformer, capsule, gcn or lm',
    '',
  ].join('\n'),
  'hydra/output/custom.yaml': HYDRA_OUTPUT_CUSTOM,
  'preprocess.yaml': [
    'preprocess: True',
    "data_path: 'data/origin'",
    "out_path: 'data/out'",
    'chinese_split: True',
    'replace_entity_with_type: True',
    'replace_entity_with_scope: True',
    'min_freq: 3',
    'pos_limit: 30',
    '',
  ].join('\n'),
  'train.yaml': [
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
    'show_plot: False',
    'only_comparison_plot: False',
    'plot_utils: matplot',
    'predict_plot: False',
    'use_multi_gpu: False',
    'gpu_ids: 0,1',
    '',
  ].join('\n'),
  'embedding.yaml': [
    'vocab_size: ???',
    'word_dim: 60',
    'pos_size: ???',
    'pos_dim: 10',
    'dim_strategy: sum',
    'num_relations: 11',
    '',
  ].join('\n'),
  'predict.yaml': "fp: 'xxx/checkpoints/2019-12-03_17-35-30/cnn_epoch21.pth'\n",
  'model/lm.yaml': [
    'model_name: lm',
    "lm_file: 'bert-base-chinese'",
    'num_hidden_layers: 1',
    "type_rnn: 'LSTM'",
    'input_size: 768',
    'hidden_size: 100',
    'num_layers: 1',
    'dropout: 0.3',
    'bidirectional: True',
    'last_layer_hn: True',
    '',
  ].join('\n'),
  'model/cnn.yaml': [
    'model_name: cnn',
    'in_channels: ???',
    'out_channels: 100',
    'kernel_sizes: [3, 5, 7]',
    'activation: gelu',
    'pooling_strategy: max',
    'keep_length: True',
    'dropout: 0.3',
    'use_pcnn: False',
    'intermediate: 80',
    '',
  ].join('\n'),
  'model/rnn.yaml': [
    'model_name: rnn',
    "type_rnn: 'LSTM'",
    'input_size: ???',
    'hidden_size: 150',
    'num_layers: 2',
    'dropout: 0.3',
    'bidirectional: True',
    'last_layer_hn: True',
    '',
  ].join('\n'),
});

/**
 * Writes a DeepKE project folder in a fresh temp folder (under `parent`, default the system's) and returns its path:
 * `base`'s conf files under conf/, `conf` replacing or adding files (null removes one), and data/origin linked to
 * `origin` when given. The one builder of the RE and NER projects.
 */
export function writeDeepkeProject(opts: {
  prefix: string;
  base: Readonly<Record<string, string>>;
  conf?: Record<string, string | null>;
  parent?: string;
  origin?: string;
}): string {
  const project = mkdtempSync(join(opts.parent ?? tmpdir(), opts.prefix));
  for (const [rel, text] of Object.entries({ ...opts.base, ...opts.conf })) {
    if (text === null) continue;
    const path = join(project, 'conf', rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  if (opts.origin) {
    mkdirSync(join(project, 'data'), { recursive: true });
    symlinkSync(opts.origin, join(project, 'data', 'origin'), 'dir');
  }
  return project;
}

/**
 * Writes a DeepKE project folder (conf/ + data/origin) in a fresh temp folder and returns its path.
 * `conf` replaces or adds files (null removes one); data/origin links to the DeepKE sample when present.
 */
export function makeDeepkeProject(conf: Record<string, string | null> = {}, parent?: string): string {
  return writeDeepkeProject({
    prefix: 'refit-deepke-',
    base: DEEPKE_CONF,
    conf,
    parent,
    origin: DEEPKE_ASSET,
  });
}
