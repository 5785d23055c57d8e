// Shared types of the memory model (plan, fit, profiles). Types only: no logic, no I/O.
// Every size is in bytes; names crossing the CLI/JSON boundary are snake_case.
import type { Attention, FitLevers, Offload, Optimizer, Padding, Precision } from './lever-types.ts';

/** The shape of a BERT encoder, with Hugging Face config.json names. */
export interface ModelDims {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size: number;
}

// The lever value types are declared once, in the lever table (levers.ts).
export type { Attention, Offload, Optimizer, Padding, Precision };

/** Which program runs the model: our worker (`refit`) or Hugging Face BertModel (`hf`, as DeepKE runs it). */
export type Engine = 'refit' | 'hf';

/** One training or inference configuration to plan (the micro-batch and the padded length). */
export interface RunShape {
  engine: Engine;
  mode: 'train' | 'infer';
  batch_size: number;
  seq_len: number;
  precision: Precision;
  attention: Attention;
  grad_checkpointing: boolean;
  optimizer: Optimizer;
  num_labels: number;
  freeze_layers?: number;
  /** what a training run keeps in host memory instead of on the device (absent: none) */
  offload?: Offload;
  /** LoRA adapters of this rank on `lora_targets` of every trained layer, the base weights frozen (absent: none) */
  lora_rank?: number;
  lora_targets?: readonly string[];
  /** LoRA's dropout on the adapters' input: > 0 keeps the dropped input and its mask for backward */
  lora_dropout?: number;
  /** The relation heads, or `token` (task: ner: a Linear over every position, its logits and loss per token). */
  head?: 'entity-start' | 'cls' | 'deepke-lm' | 'token';
  /** The deepke-lm head's RNN (default: DeepKE's model/lm.yaml, a 1-layer BiLSTM of 100). */
  rnn?: RnnShape;
  /**
   * nn.DataParallel over this many GPUs (DeepKE's use_multi_gpu); the plan is GPU 0's, which holds the whole
   * batch's inputs and outputs, the gradients and the optimizer, and runs 1/n of the batch (rounded up).
   */
  data_parallel?: number;
  /**
   * torch.distributed ranks (one process per GPU); the plan is one rank's. `batch_size` is then the per-rank
   * micro-batch.
   */
  ranks?: number;
  /** How the ranks share model states (default ddp). */
  strategy?: 'ddp' | 'zero1' | 'fsdp';
}

/**
 * One rank's model-state and communication bytes with several ranks (`refit plan --nproc N --json`): weights,
 * gradients and optimizer states as that rank holds them, DDP's gradient buckets, FSDP's gathered unit and its
 * prefetched next one, and the all-reduce / reduce-scatter buffers alive around the step.
 */
export interface RankBreakdown {
  world: number;
  strategy: 'ddp' | 'zero1' | 'fsdp';
  weights: number;
  gradients: number;
  optimizer: number;
  ddp_buckets: number;
  fsdp_gathered: number;
  fsdp_prefetch: number;
  comm_buffers: number;
}

/**
 * An RNN between the encoder and the classifier (DeepKE's LM head); `hidden_size` is the total over both
 * directions.
 */
export interface RnnShape {
  type: 'LSTM' | 'GRU' | 'RNN';
  hidden_size: number;
  num_layers: number;
  bidirectional: boolean;
}

/** A device: name, total memory as the driver reports it, bf16 support and rough speeds. */
export interface GpuSpec {
  name: string;
  memory_bytes: number;
  bf16: boolean;
  /** dense fp32 TFLOP/s (without TF32), 0 when unknown */
  fp32_tflops?: number;
  /** dense fp16/bf16 tensor-core TFLOP/s with fp32 accumulation, 0 when none */
  tensor16_tflops?: number;
  /** memory bandwidth in GB/s */
  bandwidth_gbs?: number;
  /** sm90+ (Hopper): 32 MiB cuBLAS workspaces instead of 8 MiB */
  hopper?: boolean;
  /** torch's scaled_dot_product_attention runs here (false: only eager; undefined: assumed, as on any torch 2.x) */
  sdpa?: boolean;
  /** the link to host memory (`PCIe 4.0 x16`, `NVLink-C2C`) and its usable GB/s one way (gpus.ts hostLink) */
  host_link?: string;
  host_link_gbs?: number;
}

/** What an offloaded run keeps in host memory (pinned where CUDA is), in bytes; `total` is their sum. */
export interface HostBytes {
  /** the optimizer's states (AdamW: two fp32 values per trainable parameter) */
  optimizer: number;
  /** the fp32 copy of the trainable parameters the host's step updates */
  master_weights: number;
  /** the gradients copied to the host for the step */
  gradients: number;
  /** the saved activations (and checkpointed layers' inputs) of one micro-batch */
  activations: number;
  total: number;
}

/** Where the bytes of the peak go; the fields add up to the peak device bytes. */
export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizer: number;
  autocast_copies: number;
  activations: number;
  transients: number;
  workspace: number;
  context: number;
  allocator_slack: number;
}

/** What a profile estimates: allocator-level peak (allocated) with its parts and the phase of the peak. */
export interface ProfileEstimate {
  params: number;
  peak_allocated_bytes: number;
  /** the allocated-level parts (context and slack are added by the planner) */
  parts: Omit<MemoryBreakdown, 'context' | 'allocator_slack'>;
  peak_phase: 'optimizer-step' | 'backward' | 'forward';
  /** several ranks: one rank's model states and communication buffers */
  per_rank?: RankBreakdown;
  /** offload: what the run keeps in host memory */
  host?: HostBytes;
}

/** An engine's memory behaviour; pure function of model, run and device (no I/O). */
export interface EngineProfile {
  name: Engine;
  estimate(model: ModelDims, run: RunShape, device?: GpuSpec): ProfileEstimate;
}

/** The result of `planMemory` (also the `refit plan --json` object). */
export interface MemoryPlan {
  engine: Engine;
  mode: 'train' | 'infer';
  config: RunShape & { model: ModelDims; gpu?: string };
  params: number;
  peak_allocated_bytes: number;
  peak_reserved_bytes: number;
  peak_device_bytes: number;
  breakdown: MemoryBreakdown;
  peak_phase: string;
  /** several ranks (`ranks` > 1): what one rank holds; the breakdown and peaks above are that rank's */
  per_rank?: RankBreakdown;
  /** offload (`offload` other than none): the bytes kept in host memory instead */
  host?: HostBytes;
  budget_bytes?: number;
  fits?: boolean;
}

/** One candidate configuration of `fitConfig`, with its predicted cost. */
export interface FitCandidate {
  /** the split, the searched levers (FitLevers: one field per lever fit searches), the window and padding */
  config: FitLevers & {
    micro_batch_size: number;
    grad_accumulation: number;
    seq_len: number;
    /** several GPUs (`refit fit --gpus N`): the ranks and how they share the states; micro_batch_size is per rank */
    ranks?: number;
    strategy?: 'ddp' | 'zero1' | 'fsdp';
  };
  /** the run shape planned for it: what `refit plan -c` prints for the config with these levers */
  run: RunShape;
  peak_device_bytes: number;
  fits: boolean;
  predicted_examples_per_s: number;
  predicted_step_ms: number;
}

/** The result of `fitConfig` (also the `refit fit --json` object). */
export interface FitResult extends FitCandidate {
  budget_bytes: number;
  gpu: string;
  effective_batch: number;
  alternatives: FitCandidate[];
}
