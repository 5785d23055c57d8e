// A DeepKE standard-NER project folder for tests: conf/ laid out as DeepKE's example/ner/standard/conf (config.yaml
// with `hydra/model`, train.yaml, predict.yaml, hydra/model/bert.yaml, hydra/model/lstmcrf.yaml,
// hydra/output/custom.yaml), the same files and keys with the BERT model chosen as issue #376 runs it.
import { HYDRA_OUTPUT_CUSTOM, writeDeepkeProject } from './deepke-project.ts';

/** The conf files of a DeepKE standard-NER project, by path under conf/. */
export const DEEPKE_NER_CONF: Readonly<Record<string, string>> = Object.freeze({
  'config.yaml': [
    '# run_bert.py fills this in with the folder it was started from',
    'cwd: ???',
    'lan: "zh" # en',
    '',
    'defaults:',
    '    - hydra/output: custom',
    '    - train',
    '    - predict',
    '    - hydra/model: bert   # [bert, lstmcrf]',
    '',
  ].join('\n'),
  'hydra/output/custom.yaml': HYDRA_OUTPUT_CUSTOM,
  'train.yaml': [
    'adam_epsilon: 1e-8',
    'data_dir: "data"',
    'do_eval: True',
    'do_train: True',
    'eval_batch_size: 8',
    'eval_on: "dev"',
    'gpu_id: 0',
    'gradient_accumulation_steps: 1',
    'learning_rate: 1e-3            # 2e-5 for BERT',
    'num_train_epochs: 3',
    'output_dir: "checkpoints"',
    'seed: 42',
    'train_batch_size: 128',
    'use_gpu: True',
    'warmup_proportion: 0.1',
    'weight_decay: 0.01',
    '',
    '# StepLR (the LSTM-CRF model)',
    'lr_step : 5',
    'lr_gamma : 0.8',
    'beta1: 0.9',
    'beta2: 0.999',
    "labels: ['LOC','ORG','PER']",
    '',
    'use_multi_gpu: False',
    '',
  ].join('\n'),
  'predict.yaml': ['text: "秦始皇兵马俑位于陕西省西安市。"', 'lan: zh # en', ''].join('\n'),
  'hydra/model/bert.yaml': [
    'model_name: "bert"',
    'bert_model: "bert-base-chinese"',
    'do_lower_case: True',
    'fp16: False',
    'fp16_opt_level: "01"',
    'local_rank: -1',
    'loss_scale: 0.0',
    'max_grad_norm: 1.0',
    'max_seq_length: 128',
    'task_name: "ner"',
    '',
  ].join('\n'),
  'hydra/model/lstmcrf.yaml': [
    'model_name: "lstmcrf"',
    'model_save_name: "model.pth"',
    'model_vocab_path: "data_bilstm.pkl"',
    'word_dim: 128',
    'hidden_dim: 384',
    'drop_out: 0.5',
    'num_layers: 2',
    'bidirectional: True',
    '',
  ].join('\n'),
});

/**
 * Writes a DeepKE standard-NER project (conf/ only) into a new temp folder and returns the folder; `conf` replaces
 * or adds files (null removes one), as for the RE project (writeDeepkeProject).
 */
export function makeDeepkeNerProject(conf: Record<string, string | null> = {}, parent?: string): string {
  return writeDeepkeProject({ prefix: 'refit-deepke-ner-', base: DEEPKE_NER_CONF, conf, parent });
}
