// The worker's events (its stdout), the other half of the TS↔worker protocol (protocol.ts, which re-exports them;
// mirrored in worker/python/refit_worker/protocol.py). Every name is snake_case and identical on both sides.

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
  /**
   * The token head on a labelled data set (not predict's rows): the cross-entropy of the gold tag at each position
   * read, in nats (the terms of the training loss).
   */
  nll?: number[][];
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
