// DeepKE's standard-RE config keys (conf/*.yaml, merged flat by Hydra), so a DeepKE user's conf works:
// the keys that map onto refit keys, and the ones accepted but ignored because refit has no such knob.
import { ConfigError } from '../errors.ts';

/** Where a value came from, for error messages: a YAML file line or a command-line override. */
export interface Where {
  file?: string;
  line?: number;
  /** The folder relative paths of DeepKE keys are read from (a composed conf: the project folder, DeepKE's cwd). */
  base?: string;
}

/** What an alias may do: set a refit key (recording the name the user wrote) or keep DeepKE GPU state. */
export interface AliasContext {
  set(key: string, value: unknown, written: string, where: Where): void;
  gpu: {
    use_gpu?: { value: boolean; where: Where };
    gpu_id?: { value: number; where: Where };
    use_multi_gpu?: { value: boolean; where: Where };
    gpu_ids?: { value: number[]; where: Where };
  };
  /** Where DeepKE's `model_name: lm` was written: the deepke-lm head unless model.head is given. */
  model_name?: Where;
  /**
   * DeepKE's standard NER: `train_batch_size` is each micro-batch and `gradient_accumulation_steps` how many make
   * a step (run_bert.py), so the effective batch is their product (set once both are read).
   */
  ner_batch?: {
    train_batch_size?: { value: unknown; written: string; where: Where };
    accumulation?: { value: unknown; written: string; where: Where };
  };
}

/** The `FILE:LINE: ` prefix of a message ('' for a command-line override). */
export function wherePrefix(where: Where): string {
  return where.file ? `${where.file}${where.line !== undefined ? `:${where.line}` : ''}: ` : '';
}

const to = (key: string) => (value: unknown, ctx: AliasContext, written: string, where: Where) =>
  ctx.set(key, value, written, where);

/** DeepKE key → how it maps onto refit's config. */
export const ALIASES: Readonly<
  Record<string, (value: unknown, ctx: AliasContext, written: string, where: Where) => void>
> = Object.freeze({
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
  // DeepKE's standard NER train.yaml: the entity types (each stands for its B- and I- tags, as in run_bert.py)
  labels: to('data.labels'),
  use_gpu: (value, ctx, written, where) => {
    if (typeof value !== 'boolean')
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(where)}${written} must be true or false, got ${JSON.stringify(value)}`,
      );
    ctx.gpu.use_gpu = { value, where };
  },
  gpu_id: (value, ctx, written, where) => {
    if (!Number.isInteger(value) || (value as number) < 0)
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(where)}${written} must be an integer ≥ 0, got ${JSON.stringify(value)}`,
      );
    ctx.gpu.gpu_id = { value: value as number, where };
  },
  model_name: (value, ctx, written, where) => {
    // DeepKE's standard NER (example/ner/standard, hydra/model: bert) is BERT + a token classifier: task ner
    if (value === 'bert') return ctx.set('task', 'ner', written, where);
    if (value !== 'lm') {
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(where)}${written} ${JSON.stringify(value)} is not supported: refit trains BERT ` +
          `models only (DeepKE's model_name lm); remove the key or set it to lm`,
      );
    }
    ctx.model_name = where;
  },
  // DeepKE's standard NER (example/ner/standard: conf/train.yaml, conf/hydra/model/bert.yaml)
  bert_model: to('model.pretrained'),
  train_batch_size: (value, ctx, written, where) => {
    ctx.ner_batch = { ...ctx.ner_batch, train_batch_size: { value, written, where } };
  },
  num_train_epochs: to('train.epochs'),
  warmup_proportion: to('train.warmup_ratio'),
  gradient_accumulation_steps: (value, ctx, written, where) => {
    ctx.ner_batch = { ...ctx.ner_batch, accumulation: { value, written, where } };
  },
  max_grad_norm: to('train.max_grad_norm'),
  do_lower_case: to('model.lowercase'),
  fp16: (value, ctx, written, where) => {
    if (typeof value !== 'boolean')
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(where)}${written} must be true or false, got ${JSON.stringify(value)}`,
      );
    ctx.set('memory.precision', value ? 'fp16' : 'fp32', written, where);
  },
  // DeepKE's LM model: BERT → RNN (model/lm.yaml) → dropout → Linear;
  // `input_size` is BERT's hidden size (ignored).
  type_rnn: (value, ctx, written, where) =>
    ctx.set('model.rnn.type', typeof value === 'string' ? value.toUpperCase() : value, written, where),
  hidden_size: to('model.rnn.hidden_size'),
  num_layers: to('model.rnn.num_layers'),
  bidirectional: to('model.rnn.bidirectional'),
  last_layer_hn: to('model.rnn.last_layer_hn'),
  dropout: to('model.rnn.dropout'),
  use_multi_gpu: (value, ctx, written, where) => {
    if (typeof value !== 'boolean')
      throw new ConfigError(
        'E_CONFIG_VALUE',
        `${wherePrefix(where)}${written} must be true or false, got ${JSON.stringify(value)}`,
      );
    ctx.gpu.use_multi_gpu = { value, where };
  },
  gpu_ids: (value, ctx, written, where) => {
    ctx.gpu.gpu_ids = { value: gpuIds(value, written, where), where };
  },
});

/** DeepKE's `gpu_ids` (`0,1` as YAML reads it: a string; or a list, or one number) as device numbers. */
function gpuIds(value: unknown, written: string, where: Where): number[] {
  const parts = Array.isArray(value)
    ? value
    : typeof value === 'number'
      ? [value]
      : typeof value === 'string'
        ? value.split(',').map((x) => x.trim())
        : [value];
  const ids = parts.map((x) => (typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x));
  if (
    ids.length === 0 ||
    !ids.every((x) => Number.isInteger(x) && (x as number) >= 0) ||
    new Set(ids).size !== ids.length
  ) {
    throw new ConfigError(
      'E_CONFIG_VALUE',
      `${wherePrefix(where)}${written} must be distinct GPU numbers such as 0,1, got ${JSON.stringify(value)}`,
    );
  }
  return ids as number[];
}

/** DeepKE keys accepted and ignored, with the reason shown in the warning. A table, no logic. */
export const IGNORED_DEEPKE_KEYS: Readonly<Record<string, string>> = Object.freeze({
  cwd: 'Hydra bookkeeping',
  hydra: 'Hydra bookkeeping',
  defaults: 'Hydra bookkeeping',
  use_wandb: 'no wandb logging',
  preprocess: 'refit caches the encoded dataset itself',
  out_path: 'refit caches the encoded dataset itself',
  chinese_split: 'BERT WordPiece is used for every language',
  replace_entity_with_type:
    "DeepKE's non-LM models only (its LM input always has type words: model.head=deepke-lm)",
  replace_entity_with_scope: 'refit marks entities with markers',
  min_freq: "the vocabulary is the model's vocab.txt",
  pos_limit: 'no position features (entity markers instead)',
  lr_factor: 'refit uses linear warmup and decay',
  lr_patience: 'refit uses linear warmup and decay',
  train_log: 'progress is always shown',
  log_interval: 'progress is always shown',
  show_plot: 'see report.html',
  only_comparison_plot: 'see report.html',
  plot_utils: 'see report.html',
  predict_plot: 'see report.html',
  vocab_size: 'taken from the vocabulary',
  word_dim: 'non-BERT embedding',
  pos_size: 'non-BERT embedding',
  pos_dim: 'non-BERT embedding',
  dim_strategy: 'non-BERT embedding',
  fp: 'refit predict takes --run DIR',
  input_size: 'taken from the model config',
  // DeepKE's standard NER keys refit has no use for
  task_name: 'model_name bert is task ner',
  text: 'refit predict takes --text',
  lan: 'each character of Chinese text is a token whatever the language',
  data_dir: 'set data.train, data.valid and data.test',
  output_dir: 'the run folder is --out',
  do_train: 'refit train trains, refit eval evaluates',
  do_eval: 'refit train scores valid after each epoch and test at the end',
  eval_on: 'refit train scores valid after each epoch and test at the end',
  eval_batch_size: 'evaluation batches are sized by refit',
  adam_epsilon: 'AdamW eps 1e-8, as DeepKE',
  beta1: 'AdamW betas (0.9, 0.999), as DeepKE',
  beta2: 'AdamW betas (0.9, 0.999), as DeepKE',
  lr_step: "DeepKE's LSTM-CRF StepLR only",
  lr_gamma: "DeepKE's LSTM-CRF StepLR only",
  fp16_opt_level: 'refit uses torch autocast, not apex',
  loss_scale: 'refit uses torch autocast, not apex',
  local_rank: 'set distributed.* for several ranks',
});

/**
 * DeepKE keys only its non-LM models read (with `model: lm` they do nothing in DeepKE either): not warned
 * about in a composed conf.
 */
export const DEEPKE_NON_LM_KEYS: ReadonlySet<string> = new Set([
  'chinese_split',
  'replace_entity_with_type',
  'replace_entity_with_scope',
  'min_freq',
  'pos_limit',
  'vocab_size',
  'word_dim',
  'pos_size',
  'pos_dim',
  'dim_strategy',
]);

/**
 * Finishes the aliases that depend on each other, once every entry is read: `device` from DeepKE's
 * use_gpu/gpu_id unless `device` was given (false → cpu; gpu_id 0 → auto; N → cuda:N); `device_ids` from
 * use_multi_gpu + gpu_ids (DeepKE's DataParallel; the first id is its main device); the deepke-lm head from
 * `model_name: lm` unless model.head was given.
 */
export function finishAliases(ctx: AliasContext, given: (key: string) => boolean): void {
  const { use_gpu, gpu_id, use_multi_gpu, gpu_ids } = ctx.gpu;
  const { train_batch_size: tbs, accumulation: acc } = ctx.ner_batch ?? {};
  if (acc) ctx.set('memory.grad_accumulation', acc.value, acc.written, acc.where);
  if (tbs) {
    const k = acc && Number.isInteger(acc.value) ? (acc.value as number) : 1;
    const micro = tbs.value;
    // run_bert.py: each micro-batch is train_batch_size, `gradient_accumulation_steps` of them make one step
    ctx.set(
      'train.batch_size',
      Number.isInteger(micro) ? (micro as number) * k : micro,
      tbs.written,
      tbs.where,
    );
  }
  if (ctx.model_name && !given('model.head'))
    ctx.set('model.head', 'deepke-lm', 'model_name', ctx.model_name);
  const cpu = use_gpu !== undefined && !use_gpu.value;
  if (use_multi_gpu?.value && !cpu && !given('device_ids')) {
    // DeepKE sets CUDA_VISIBLE_DEVICES to gpu_ids (default 0,1 in its train.yaml) and wraps the model in DataParallel.
    const ids = gpu_ids?.value ?? [0, 1];
    ctx.set('device_ids', ids, gpu_ids ? 'gpu_ids' : 'use_multi_gpu', gpu_ids?.where ?? use_multi_gpu.where);
  }
  if (given('device') || (!use_gpu && !gpu_id)) return;
  const where = (gpu_id ?? use_gpu)!.where;
  const main = use_multi_gpu?.value ? gpu_ids?.value[0] : undefined; // DeepKE's main device is then gpu_ids' first
  if (cpu) {
    ctx.set('device', 'cpu', 'use_gpu', use_gpu!.where);
  } else if (main !== undefined) {
    ctx.set('device', main > 0 ? `cuda:${main}` : 'auto', 'gpu_ids', gpu_ids!.where);
  } else if (gpu_id && gpu_id.value > 0) {
    ctx.set('device', `cuda:${gpu_id.value}`, 'gpu_id', where);
  } else {
    // DeepKE runs on cuda:gpu_id when CUDA is there and on the CPU otherwise: that is `auto` for GPU 0.
    ctx.set('device', 'auto', use_gpu ? 'use_gpu' : 'gpu_id', where);
  }
}
