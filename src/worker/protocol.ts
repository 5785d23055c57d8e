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
/** How several ranks share the model states (design §8). */
export type DistStrategy = 'ddp' | 'zero1' | 'fsdp';

/** One micro-batch: example indices into an opened dataset and the padded length (≥ every example's length). */
export interface MicroBatch {
  indices: number[];
  seq_len: number;
}

/** Memory figures; CUDA fields use torch's names. All bytes. */
export interface MemoryStats {
  device: 'cuda' | 'cpu';
  max_memory_allocated?: number;
  max_memory_reserved?: number;
  memory_allocated?: number;
  mem_get_info_free?: number;
  mem_get_info_total?: number;
  peak_rss_bytes?: number;
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

/** The BLAS library a worker's torch loaded (refit_worker.device.blas_library). */
export interface BlasLibrary {
  /** e.g. `OpenBLAS 0.3.21 (openblas-pthread)`, `reference BLAS`, `MKL (inside torch)`. */
  name: string;
  /** The library file mapped in the worker; null when the BLAS is inside torch's own library (pip's torch). */
  path: string | null;
  /** Debian's reference (Netlib) BLAS: about 10x slower matrix products than OpenBLAS. */
  reference: boolean;
}

export interface ReadyEvent {
  type: 'ready';
  protocol_version: number;
  torch_version: string;
  python_version: string;
  capabilities: {
    cuda: boolean;
    device_count: number;
    bf16: boolean;
    sdpa: boolean;
    fused_adamw: boolean;
    device_name?: string;
    total_memory?: number;
    /** Every visible card's name (CUDA only). */
    device_names?: string[];
    /** The BLAS torch's CPU matrix products run on (absent from workers that predate the probe). */
    blas?: BlasLibrary;
  };
  num_threads: number;
  /** Several ranks: how many, and the torch.distributed backend they joined (gloo, nccl). */
  world_size?: number;
  backend?: string;
}

export interface LoadedEvent {
  type: 'loaded';
  params: number;
  trainable_params: number;
  memory: MemoryStats;
}

export interface DatasetOpenedEvent {
  type: 'dataset_opened';
  name: string;
  n: number;
  total_tokens: number;
}

/** A finished optimizer step. `loss` is the logical batch's mean loss. */
export interface StepEvent {
  type: 'step';
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  examples: number;
  tokens: number; // real (non-padding) tokens
  padded_tokens: number; // tokens including padding
  seconds: number; // compute time inside the worker for this step
  skipped?: boolean; // fp16: the loss scaler skipped the update (inf/nan grads)
  /** Several ranks: the figures of the rank that peaked highest (it runs out first); one process: its own. */
  memory: MemoryStats;
  /** Several ranks: every rank's figures, in rank order. */
  rank_memory?: MemoryStats[];
}

/** A micro-batch ran out of memory. Gradients of `completed_micro_batches` earlier micro-batches are kept. */
export interface OomEvent {
  type: 'oom';
  step: number;
  completed_micro_batches: number;
  message: string; // verbatim exception text
  memory: MemoryStats;
  /** Several ranks: the rank that ran out (every rank dropped the same micro-batch). */
  rank?: number;
}

/**
 * The answer to `eval`, one row per example in batch order: a relation head's logits, or the token head's tag ids and
 * their softmax probabilities at each position read (a dataset's labelled positions, label id not -100, or the rows'
 * word_starts), in order; a full logits tensor per token would be too big for JSON.
 */
export interface EvalResultEvent {
  type: 'eval_result';
  tag: string;
  /** Relation heads: logits [examples][num_labels]. */
  logits?: number[][];
  /** The token head: tag ids [examples][positions read]. */
  tags?: number[][];
  /** The token head: the softmax probability of each of `tags`. */
  scores?: number[][];
  seconds: number;
  memory: MemoryStats;
}

export interface SavedEvent {
  type: 'saved';
  path: string;
  step: number;
}

export interface RestoredEvent {
  type: 'restored';
  path: string;
  step: number;
}

/** The answer to `inspect_weights`: every tensor by its name as stored (`module.` prefixes kept), shape and dtype. */
export interface WeightsInfoEvent {
  type: 'weights_info';
  path: string;
  tensors: Record<string, { shape: number[]; dtype: string }>;
}

export interface MemoryEvent {
  type: 'memory';
  memory: MemoryStats;
}

/** The answer to `export_onnx`: the file written, its size in bytes and the export's wall time in seconds. */
export interface ExportedEvent {
  type: 'exported';
  path: string;
  opset: number;
  bytes: number;
  seconds: number;
}

export interface ByeEvent {
  type: 'bye';
}

/** A command failed. `code` is stable (E_MODEL_FILES, E_CHECKPOINT_ARCH, E_BAD_COMMAND, E_INTERNAL, …). */
export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  traceback?: string;
  command?: string;
}

export type WorkerEvent =
  | ReadyEvent
  | LoadedEvent
  | DatasetOpenedEvent
  | StepEvent
  | OomEvent
  | EvalResultEvent
  | SavedEvent
  | RestoredEvent
  | WeightsInfoEvent
  | MemoryEvent
  | ExportedEvent
  | ByeEvent
  | ErrorEvent;
