// The run configuration: the RunConfig type, one table of every valid dotted key with its JSON schema
// and a human description of the values it takes, and the ajv schema built from that table.
// No I/O and no defaults here (defaults.ts); resolve.ts reads files and applies aliases.
import { NER_READERS, READERS } from '../data/index.ts';
// The lever table itself, not memory/index.ts: that one reaches back into config/ (the doctor's config fixes).
import { LEVERS, type MemoryConfig } from '../memory/levers.ts';
// A leaf table with no imports of logic (memory/index.ts would pull in the doctor, which reads configs).
import type { DistributedConfig } from '../memory/distributed-levers.ts';
import type { LoraConfig } from '../memory/lora-levers.ts';

/** The fully resolved configuration of a run (config.yaml); every key is snake_case as written in YAML. */
export interface RunConfig {
  /** What the model learns: `re` (relation extraction, the default) or `ner` (a tag per token, task: ner). */
  task: Task;
  data: {
    train?: string;
    valid?: string;
    test?: string;
    relations?: string;
    /** A DeepKE-style data folder (train/valid/test + relation file) used when train/valid/test are not given. */
    folder?: string;
    format?: string;
    na_label?: string;
    /** DeepKE's `num_relations`: when set, the trainer checks it against the relation set's size. */
    num_relations?: number;
    /**
     * task: ner — the tag set (DeepKE's `labels:`): tags, or entity types standing for their B- and I- tags; every
     * tag of the data must be declared, and a declared one the data lacks is kept.
     */
    labels?: string[];
    on_bad_row: 'error' | 'skip' | 'warn';
  };
  model: {
    pretrained?: string;
    preset?: string;
    vocab?: string;
    head: HeadName;
    lowercase?: boolean;
    /** Keep only the first N encoder layers (DeepKE's `num_hidden_layers`; default: the model's own). */
    num_hidden_layers?: number;
    /**
     * The RNN of the `deepke-lm` head (DeepKE's type_rnn, hidden_size, num_layers, bidirectional,
     * last_layer_hn, dropout).
     */
    rnn: RnnConfig;
    /**
     * Dropout of the encoder and before the head (default: the model config's, BERT's 0.1); 0 makes runs
     * comparable bit for bit up to rounding.
     */
    dropout?: number;
    /** LoRA (the lever table's model.lora.* entries): rank 0 trains the whole model */
    lora: LoraConfig;
  };
  train: {
    epochs: number;
    batch_size: number;
    learning_rate: number;
    warmup_ratio: number;
    weight_decay: number;
    max_grad_norm: number;
    seed: number;
    early_stopping_patience: number;
  };
  /** The memory levers (src/memory/levers.ts). */
  memory: MemoryConfig;
  /**
   * Several ranks with torch.distributed (one process per GPU or CPU share); the lever table's distributed.*
   * entries.
   */
  distributed: DistributedConfig;
  predict: { na_threshold: number; top_k: number };
  /**
   * `onnx`: write model/model.onnx at the end of training (checked against torch), so predict and serve need
   * no Python.
   */
  export: { onnx: boolean };
  /** 'auto' | 'cpu' | 'cuda' | 'cuda:N'. */
  device: string;
  /**
   * DataParallel over these CUDA devices (DeepKE's use_multi_gpu + gpu_ids), the first holding the weights and
   * the optimizer: planned as DeepKE runs it; refit itself trains on one device for now.
   */
  device_ids?: number[];
  engine: { python?: string };
  /** Run folder (the `--out` flag overrides it). */
  out?: string;
}

/** The tasks refit trains: relation extraction or named-entity recognition. */
export type Task = 're' | 'ner';

/** Relation heads: entity-start (refit's default), cls (pooler), deepke-lm (DeepKE's LM model: BERT → RNN → fc). */
export type HeadName = 'entity-start' | 'cls' | 'deepke-lm';

/** The `deepke-lm` head's RNN; `hidden_size` is the total over both directions when bidirectional (as in DeepKE). */
export interface RnnConfig {
  type: 'LSTM' | 'GRU' | 'RNN';
  hidden_size: number;
  num_layers: number;
  bidirectional: boolean;
  last_layer_hn: boolean;
  /** Between stacked RNN layers and before the final linear layer (DeepKE's `dropout`). */
  dropout: number;
}

/** One valid dotted config key: its JSON schema and the words used in errors for what it accepts. */
export interface KeySpec {
  key: string;
  schema: Record<string, unknown>;
  expected: string;
}

/** Names of the data readers (`data.format` values), straight from the relation and NER reader registries. */
export const DATA_FORMATS: readonly string[] = Object.freeze([
  ...Object.keys(READERS),
  ...Object.keys(NER_READERS),
]);
/** Model presets for random initialisation (dims live in src/memory PRESETS). */
export const MODEL_PRESETS = [
  'bert-tiny',
  'bert-mini',
  'bert-small',
  'bert-medium',
  'bert-base',
  'bert-large',
] as const;

const path = (what = 'a path'): Pick<KeySpec, 'schema' | 'expected'> => ({
  schema: { type: 'string', minLength: 1 },
  expected: what,
});
const oneOf = (...values: Array<string | boolean>): Pick<KeySpec, 'schema' | 'expected'> => ({
  schema: { enum: values },
  expected: `one of ${values.join(', ')}`,
});
const int = (min: number, max?: number): Pick<KeySpec, 'schema' | 'expected'> => ({
  schema: { type: 'integer', minimum: min, ...(max !== undefined ? { maximum: max } : {}) },
  expected: max !== undefined ? `an integer from ${min} to ${max}` : `an integer ≥ ${min}`,
});
const num = (min: number, max: number, exclusiveMin = false): Pick<KeySpec, 'schema' | 'expected'> => ({
  schema: { type: 'number', [exclusiveMin ? 'exclusiveMinimum' : 'minimum']: min, maximum: max },
  expected: `a number ${exclusiveMin ? '>' : '≥'} ${min} and ≤ ${max}`,
});
const bool = (): Pick<KeySpec, 'schema' | 'expected'> => ({
  schema: { type: 'boolean' },
  expected: 'true or false',
});

/** Every valid key, in config.yaml order. A table, no logic. */
export const KEY_SPECS: readonly KeySpec[] = Object.freeze([
  { key: 'task', ...oneOf('re', 'ner') },
  { key: 'data.train', ...path('a file path') },
  { key: 'data.valid', ...path('a file path') },
  { key: 'data.test', ...path('a file path') },
  { key: 'data.relations', ...path('a relation file path (relation.csv, rel2id.json, …)') },
  { key: 'data.folder', ...path('a data folder') },
  { key: 'data.format', ...oneOf(...DATA_FORMATS) },
  { key: 'data.na_label', ...path('a relation name') },
  { key: 'data.num_relations', ...int(1) },
  {
    key: 'data.labels',
    schema: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true },
    expected: "a list of tags or entity types such as ['LOC', 'ORG', 'PER']",
  },
  { key: 'data.on_bad_row', ...oneOf('error', 'skip', 'warn') },
  { key: 'model.pretrained', ...path('a Hugging Face model folder') },
  { key: 'model.preset', ...oneOf(...MODEL_PRESETS) },
  { key: 'model.vocab', ...path('a vocab.txt path') },
  { key: 'model.head', ...oneOf('entity-start', 'cls', 'deepke-lm') },
  { key: 'model.lowercase', ...bool() },
  { key: 'model.num_hidden_layers', ...int(1) },
  { key: 'model.rnn.type', ...oneOf('LSTM', 'GRU', 'RNN') },
  { key: 'model.rnn.hidden_size', ...int(1) },
  { key: 'model.rnn.num_layers', ...int(1) },
  { key: 'model.rnn.bidirectional', ...bool() },
  { key: 'model.rnn.last_layer_hn', ...bool() },
  { key: 'model.rnn.dropout', ...num(0, 1) },
  { key: 'model.dropout', ...num(0, 1) },
  { key: 'train.epochs', ...int(1) },
  { key: 'train.batch_size', ...int(1) },
  { key: 'train.learning_rate', ...num(0, 1, true) },
  { key: 'train.warmup_ratio', ...num(0, 1) },
  { key: 'train.weight_decay', ...num(0, 1) },
  { key: 'train.max_grad_norm', ...num(0, 1e6) },
  { key: 'train.seed', ...int(0, 2 ** 31 - 1) },
  { key: 'train.early_stopping_patience', ...int(0) },
  // the memory.*, distributed.* and model.lora.* keys: one entry each in the lever table
  ...LEVERS.map(({ key, schema, expected }) => ({ key, schema, expected })),
  { key: 'predict.na_threshold', ...num(0, 1) },
  { key: 'predict.top_k', ...int(1) },
  { key: 'export.onnx', ...bool() },
  {
    key: 'device',
    schema: { type: 'string', pattern: '^(auto|cpu|cuda|cuda:[0-9]+)$' },
    expected: 'auto, cpu, cuda or cuda:N',
  },
  {
    key: 'device_ids',
    schema: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, uniqueItems: true },
    expected: 'a list of distinct GPU numbers such as [0, 1]',
  },
  { key: 'engine.python', ...path('a Python interpreter path') },
  { key: 'out', ...path('a run folder path') },
]);

/** The flat list of valid dotted config keys (for help text and suggestions). */
export const CONFIG_KEYS: readonly string[] = Object.freeze(KEY_SPECS.map((s) => s.key));

/** Keys that must be present after defaults are applied (everything not optional in RunConfig). */
const OPTIONAL_KEYS = new Set([
  'data.train',
  'data.valid',
  'data.test',
  'data.relations',
  'data.folder',
  'data.format',
  'data.na_label',
  'data.num_relations',
  'data.labels',
  'model.pretrained',
  'model.preset',
  'model.vocab',
  'model.lowercase',
  'model.num_hidden_layers',
  'model.dropout',
  'engine.python',
  'out',
  'device_ids',
  // levers without a default (memory.micro_batch_size, …)
  ...LEVERS.filter((l) => l.default === undefined).map((l) => l.key),
]);

/** Keys holding file-system paths: relative values are made absolute when the config is resolved. */
export const PATH_KEYS: ReadonlySet<string> = new Set([
  'data.train',
  'data.valid',
  'data.test',
  'data.relations',
  'data.folder',
  'model.pretrained',
  'model.vocab',
  'engine.python',
  'out',
]);

/** True when `key` may be absent from a resolved RunConfig. */
export function isOptionalKey(key: string): boolean {
  return OPTIONAL_KEYS.has(key);
}

/** The spec of a dotted key, or undefined for an unknown key. */
export function keySpec(key: string): KeySpec | undefined {
  return KEY_SPECS.find((s) => s.key === key);
}

/** The JSON schema (draft-07, for ajv) of a resolved RunConfig, built from KEY_SPECS. */
export function runConfigSchema(): Record<string, unknown> {
  const root = {
    type: 'object',
    additionalProperties: false,
    properties: {} as Record<string, any>,
    required: [] as string[],
  };
  for (const spec of KEY_SPECS) {
    const parts = spec.key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!node.properties[part]) {
        node.properties[part] = { type: 'object', additionalProperties: false, properties: {}, required: [] };
        node.required.push(part);
      }
      node = node.properties[part];
    }
    const leaf = parts[parts.length - 1];
    node.properties[leaf] = { ...spec.schema, description: spec.expected };
    if (!isOptionalKey(spec.key)) node.required.push(leaf);
  }
  return root;
}
