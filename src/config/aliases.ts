// DeepKE's standard-RE config keys (conf/*.yaml, merged flat by Hydra), so a DeepKE user's conf works:
// the keys that map onto refit keys, and the ones accepted but ignored because refit has no such knob.
import { ConfigError } from '../errors.ts';

/** Where a value came from, for error messages: a YAML file line or a command-line override. */
export interface Where { file?: string; line?: number }

/** What an alias may do: set a refit key (recording the name the user wrote) or keep DeepKE GPU state. */
export interface AliasContext {
  set(key: string, value: unknown, written: string, where: Where): void;
  gpu: { use_gpu?: { value: boolean; where: Where }; gpu_id?: { value: number; where: Where } };
}

/** The `FILE:LINE: ` prefix of a message ('' for a command-line override). */
export function wherePrefix(where: Where): string {
  return where.file ? `${where.file}${where.line !== undefined ? `:${where.line}` : ''}: ` : '';
}

const to = (key: string) => (value: unknown, ctx: AliasContext, written: string, where: Where) => ctx.set(key, value, written, where);

/** DeepKE key → how it maps onto refit's config. */
export const ALIASES: Readonly<Record<string, (value: unknown, ctx: AliasContext, written: string, where: Where) => void>> = Object.freeze({
  batch_size: to('train.batch_size'),
  epoch: to('train.epochs'),
  learning_rate: to('train.learning_rate'),
  weight_decay: to('train.weight_decay'),
  seed: to('train.seed'),
  early_stopping_patience: to('train.early_stopping_patience'),
  max_seq_len: to('memory.max_seq_len'),
  max_seq_length: to('memory.max_seq_len'),
  lm_file: to('model.pretrained'),
  num_hidden_layers: to('model.num_hidden_layers'),
  num_relations: to('data.num_relations'),
  data_path: to('data.folder'),
  use_gpu: (value, ctx, written, where) => {
    if (typeof value !== 'boolean') throw new ConfigError(`${wherePrefix(where)}${written} must be true or false, got ${JSON.stringify(value)}`, 'E_CONFIG_VALUE');
    ctx.gpu.use_gpu = { value, where };
  },
  gpu_id: (value, ctx, written, where) => {
    if (!Number.isInteger(value) || (value as number) < 0) throw new ConfigError(`${wherePrefix(where)}${written} must be an integer ≥ 0, got ${JSON.stringify(value)}`, 'E_CONFIG_VALUE');
    ctx.gpu.gpu_id = { value: value as number, where };
  },
  model_name: (value, _ctx, written, where) => {
    if (value !== 'lm') {
      throw new ConfigError(`${wherePrefix(where)}${written} ${JSON.stringify(value)} is not supported: refit trains BERT models only (DeepKE's model_name lm); remove the key or set it to lm`, 'E_CONFIG_VALUE');
    }
  },
});

/** DeepKE keys accepted and ignored, with the reason shown in the warning. A table, no logic. */
export const IGNORED_DEEPKE_KEYS: Readonly<Record<string, string>> = Object.freeze({
  cwd: 'Hydra bookkeeping', hydra: 'Hydra bookkeeping', defaults: 'Hydra bookkeeping', use_wandb: 'no wandb logging',
  preprocess: 'refit caches the encoded dataset itself', out_path: 'refit caches the encoded dataset itself',
  chinese_split: 'BERT WordPiece is used for every language', replace_entity_with_type: 'refit marks entities with markers (no type leak)',
  replace_entity_with_scope: 'refit marks entities with markers', min_freq: 'the vocabulary is the model\'s vocab.txt',
  pos_limit: 'no position features (entity markers instead)', lr_factor: 'refit uses linear warmup and decay',
  lr_patience: 'refit uses linear warmup and decay', train_log: 'progress is always shown', log_interval: 'progress is always shown',
  show_plot: 'see report.html', only_comparison_plot: 'see report.html', plot_utils: 'see report.html', predict_plot: 'see report.html',
  use_multi_gpu: 'single device only', gpu_ids: 'single device only (use gpu_id or device)', vocab_size: 'taken from the vocabulary',
  word_dim: 'non-BERT embedding', pos_size: 'non-BERT embedding', pos_dim: 'non-BERT embedding', dim_strategy: 'non-BERT embedding',
  fp: 'refit predict takes --run DIR', type_rnn: 'refit has no LSTM head (entity-start or cls head)',
  input_size: 'taken from the model config', hidden_size: 'refit has no LSTM head (model dims come from the model)',
  num_layers: 'refit has no LSTM head', dropout: 'the model config\'s dropout is used', bidirectional: 'refit has no LSTM head',
  last_layer_hn: 'refit has no LSTM head',
});

/** Sets `device` from DeepKE's use_gpu/gpu_id unless `device` was given: false → cpu; gpu_id 0 → auto; N → cuda:N. */
export function finishGpuAliases(ctx: AliasContext, deviceGiven: boolean): void {
  const { use_gpu, gpu_id } = ctx.gpu;
  if (deviceGiven || (!use_gpu && !gpu_id)) return;
  const where = (gpu_id ?? use_gpu)!.where;
  if (use_gpu && !use_gpu.value) {
    ctx.set('device', 'cpu', 'use_gpu', use_gpu.where);
  } else if (gpu_id && gpu_id.value > 0) {
    ctx.set('device', `cuda:${gpu_id.value}`, 'gpu_id', where);
  } else {
    // DeepKE runs on cuda:gpu_id when CUDA is there and on the CPU otherwise: that is `auto` for GPU 0.
    ctx.set('device', 'auto', use_gpu ? 'use_gpu' : 'gpu_id', where);
  }
}
