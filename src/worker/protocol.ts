// The TS↔worker protocol, declared once (mirrored in worker/python/refit_worker/protocol.py).
// Newline-delimited JSON: commands on the worker's stdin, events on its stdout, logs on stderr.
// Only plain JSON crosses; tensors never do (the worker memory-maps the encoded dataset; predict's few encoded rows
// ride in their `eval` command as lists of ids).
// Every name here is snake_case and identical on both sides.

// The lever table and the memory types themselves, not memory/index.ts: the protocol stays a leaf every side
// can import.
import {
  LOAD_LEVERS,
  type Attention,
  type LoadLevers,
  type Optimizer,
  type Precision,
} from '../memory/levers.ts';
import type { ModelDims } from '../memory/types.ts';
import type { MemoryStats } from './protocol-events.ts';

export * from './protocol-events.ts';

export const PROTOCOL_VERSION = 1;

/**
 * Hugging Face BERT config fields the worker needs (names verbatim from config.json): the memory model's dims
 * and more.
 */
export interface BertConfigJson extends ModelDims {
  hidden_act?: string;
  layer_norm_eps?: number;
  hidden_dropout_prob?: number;
  attention_probs_dropout_prob?: number;
  initializer_range?: number;
  [key: string]: unknown;
}

// The lever value types are the lever table's (src/memory/levers.ts).
export type { Attention, Precision };

/**
 * The values each enum lever of the `load` command takes (precision, attention, optimizer): the `values` of the lever
 * table's LOAD_LEVERS; protocol.py's LEVER_VALUES mirrors it.
 */
export const LEVER_VALUES: Readonly<Record<string, readonly string[]>> = Object.freeze(
  Object.fromEntries(LOAD_LEVERS.filter((l) => l.values).map((l) => [l.name, l.values!])),
);

/**
 * The model's head: a relation head (`entity-start`, `cls`, `deepke-lm`: logits per example) or `token` (NER: dropout
 * then Linear(hidden, num_labels) at every position, num_labels = the NER dataset's tags, `O` first).
 */
export type HeadKind = 'entity-start' | 'cls' | 'deepke-lm' | 'token';

/**
 * The RNN of the `deepke-lm` head (DeepKE's LM model: BERT → RNN → dropout → fc). `hidden_size` is the total:
 * each direction gets hidden_size / 2 when bidirectional. State-dict names: `bilstm.rnn.*`, `fc.*`.
 */
export interface RnnSpec {
  type: 'LSTM' | 'GRU' | 'RNN';
  hidden_size: number;
  num_layers: number;
  bidirectional: boolean;
  last_layer_hn: boolean;
  dropout: number;
}

/** A head: kind, output size, dropout before the final linear layer, and the RNN for `deepke-lm`. */
export interface HeadSpec {
  kind: HeadKind;
  num_labels: number;
  dropout: number;
  rnn?: RnnSpec;
}
export type OptimizerKind = Optimizer;
/** The optimizer of a `load` command: the optimizer lever's kind and its settings. */
export interface OptimizerSpec {
  kind: OptimizerKind;
  lr: number;
  weight_decay: number;
  betas: [number, number];
  eps: number;
}
/**
 * The lever fields of a `load` command: the lever table's (LoadLevers, one per entry with `decision.load`), the
 * optimizer's kind nested in its settings. A new lever the worker implements is a field here through the table.
 */
export type LoadLeverFields = Omit<LoadLevers, 'optimizer'> & { optimizer: OptimizerSpec };
/**
 * LoRA's settings in a `load` command with lora_rank > 0 (model.lora): the update scaled by alpha / rank (absent:
 * 2 × rank), dropout on the adapters' input, the Linear layers adapted (worker lora.py TARGETS).
 */
export interface LoraSpec {
  alpha?: number;
  dropout: number;
  targets: string[];
}
/** How several ranks share the model states (design §8). */
export type DistStrategy = 'ddp' | 'zero1' | 'fsdp';

/** One micro-batch: example indices into an opened dataset and the padded length (≥ every example's length). */
export interface MicroBatch {
  indices: number[];
  seq_len: number;
}

// ---- commands (TS → worker) ----

export interface HelloCommand {
  type: 'hello';
  protocol_version: number;
}

/** Load (or build) the model and its optimizer; the levers' fields come from the lever table (LoadLeverFields). */
export interface LoadCommand extends LoadLeverFields {
  type: 'load';
  /** Hugging Face folder to load weights from; absent = random initialisation from `config`. */
  pretrained?: string;
  config: BertConfigJson;
  head: HeadSpec;
  seed: number;
  device: string; // 'cpu' | 'cuda' | 'cuda:N'
  schedule: { warmup_steps: number; total_steps: number };
  max_grad_norm: number;
  /** CUDA only: enforced with torch.cuda.set_per_process_memory_fraction. */
  budget_bytes?: number;
  num_threads?: number;
  /**
   * Several ranks (WORLD_SIZE > 1 in the workers' environment): ddp (replicated states), zero1 (optimizer
   * states sharded), fsdp.
   */
  strategy?: DistStrategy;
  /**
   * A `restore` of a whole saved model follows at once (predict, a resume, a restart): the model is built without
   * its random initialisation (seconds on a large model), and every command but `restore` is refused until one
   * succeeds.
   */
  skip_init?: boolean;
  /** LoRA's settings when lora_rank > 0 */
  lora?: LoraSpec;
}

export interface OpenDatasetCommand {
  type: 'open_dataset';
  name: string;
  path: string;
}

/**
 * One optimizer step over a logical batch split into micro-batches. Each micro-batch's loss is scaled
 * by (its examples / logical_batch_size), so any split gives the same gradient up to rounding; the token head's by
 * (its labelled tokens / the logical batch's, which the worker counts in the dataset), its loss being the mean over
 * labelled tokens (label id not -100).
 * `continue: true` resumes a step whose earlier micro-batches already accumulated gradients (after an
 * `oom` event): the worker must not zero gradients before it.
 */
export interface TrainStepCommand {
  type: 'train_step';
  step: number;
  dataset: string;
  logical_batch_size: number;
  micro_batches: MicroBatch[];
  continue?: boolean;
}

/**
 * Logits of the examples in `batches` (the token head: tags and scores): of an opened `dataset`, or of the command's
 * own `rows` (predict: items encoded once in TS, no file); exactly one of the two.
 */
export interface EvalCommand {
  type: 'eval';
  dataset?: string;
  rows?: EncodedRows;
  batches: MicroBatch[];
  tag: string;
}

/**
 * Encoded examples carried in a command (row i = input_ids[i]); no labels. A relation head reads each row's entity
 * positions (head_pos, tail_pos), the token head the positions of its words' first sub-tokens (word_starts).
 */
export interface EncodedRows {
  input_ids: number[][];
  head_pos?: number[];
  tail_pos?: number[];
  /** The token head: the positions to read in each row, in order (an NER file's word_pos, without the -1s). */
  word_starts?: number[][];
}

/**
 * Save the model as a Hugging Face folder (config.json + model.safetensors); with `checkpoint`, also
 * optimizer/scheduler/RNG state.
 */
export interface SaveCommand {
  type: 'save';
  path: string;
  checkpoint: boolean;
  step: number;
}

/** Restore model (+ optimizer state when present) from a folder written by `save`. */
export interface RestoreCommand {
  type: 'restore';
  path: string;
}

/**
 * Names, shapes and dtypes of the tensors in a weight file (a torch state-dict pickle or .safetensors); loads
 * nothing into a model.
 */
export interface InspectWeightsCommand {
  type: 'inspect_weights';
  path: string;
}

export interface MemoryCommand {
  type: 'memory';
  reset_peak?: boolean;
}

/**
 * Write the loaded model as ONNX (CPU fp32, eval mode, eager attention; the live model is untouched); `path`
 * is replaced atomically.
 */
export interface ExportOnnxCommand {
  type: 'export_onnx';
  path: string;
  opset: number;
}

export interface ShutdownCommand {
  type: 'shutdown';
}

export type WorkerCommand =
  | HelloCommand
  | LoadCommand
  | OpenDatasetCommand
  | TrainStepCommand
  | EvalCommand
  | SaveCommand
  | RestoreCommand
  | InspectWeightsCommand
  | MemoryCommand
  | ExportOnnxCommand
  | ShutdownCommand;

// ---- events (worker → TS) ----
