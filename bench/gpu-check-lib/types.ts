// Shapes of the GPU check's results (gpu-check.json). Types only. Memory in bytes, rates per second.
import type { MemoryPlan } from '../../src/memory/index.ts';

/** One point of part (a): a model shape trained 3 steps at one batch × length, measured against the plan. */
export interface GridRow {
  model: string;
  precision: string;
  attention: string;
  grad_checkpointing: boolean;
  batch: number;
  seq: number;
  /** absent: AdamW */
  optimizer?: string;
  ok: boolean;
  error?: string;
  oom?: string;
  params?: number;
  /** CUDA: whether the cache of the previous point was emptied before the peak window (an injected-OOM warm step). */
  cache_flushed?: boolean;
  measured?: {
    peak_allocated?: number;
    peak_reserved?: number;
    nonpytorch?: number;
    weights_allocated?: number;
    peak_rss?: number;
  };
  predicted?: {
    peak_allocated: number;
    peak_reserved: number;
    peak_device: number;
    context: number;
    peak_phase: string;
  };
  /** (predicted − measured) / measured; on CPU against peak RSS (a smoke test, not accuracy). */
  rel_err?: { allocated?: number; reserved?: number; device?: number };
  step_s?: number;
}

/** Part (a): rows plus error statistics. */
export interface GridSection {
  comparison: string;
  points_planned: number;
  rows: GridRow[];
  stopped_early: string | null;
  summary: {
    points_run: number;
    ok: number;
    median_abs_err_allocated: number | null;
    max_abs_err_allocated: number | null;
    median_abs_err_reserved: number | null;
    max_abs_err_reserved: number | null;
    median_abs_err_device: number | null;
    median_nonpytorch: number | null;
    target_median: number;
    pass: boolean | null;
  };
}

/** One training run of parts (b) and (c): a configuration, what happened, and its speed and memory. */
export interface VariantResult {
  label: string;
  config: {
    precision: string;
    attention: string;
    grad_checkpointing: boolean;
    optimizer: string;
    padding: string;
    batching?: string;
    batch_size: number;
    micro_batch_size: number;
    grad_accumulation: number;
    max_seq_len: number;
    budget_bytes: number | null;
  };
  ok: boolean;
  oom: boolean;
  oom_message?: string;
  oom_report?: Record<string, unknown>;
  error?: string;
  steps_run: number;
  timed_steps: number;
  stopped_early?: string;
  peak_allocated?: number;
  peak_reserved?: number;
  nonpytorch?: number;
  /** reserved + non-PyTorch (what a real card must hold); CPU: peak RSS of the worker. */
  peak_device?: number;
  peak_rss?: number;
  examples_per_s?: number;
  real_tokens_per_s?: number;
  padded_tokens_per_s?: number;
  padding_fraction?: number;
  wall_s?: number;
  worker_step_s?: number;
  decision_reasons?: string[];
  plan?: Pick<
    MemoryPlan,
    'peak_allocated_bytes' | 'peak_reserved_bytes' | 'peak_device_bytes' | 'peak_phase'
  > | null;
}

/** Part (b): the motivating 12 GB scenario. */
export interface ScenarioSection {
  model: string;
  seq_len: number;
  effective_batch: number;
  budget_bytes: number | null;
  budget_enforced: boolean;
  deepke_like?: VariantResult;
  auto?: VariantResult;
  pass: boolean | null;
  note: string;
}

/** Part (c): throughput on realistic lengths. */
export interface ThroughputSection {
  model: string;
  lengths: { source: string; n: number; mean: number; max: number };
  variants: VariantResult[];
  speedup_examples_per_s: number | null;
  goal: {
    target_real_tokens_per_s: number;
    budget_bytes: number | null;
    best_variant: string | null;
    real_tokens_per_s: number | null;
    peak_device: number | null;
    within_budget: boolean | null;
    pass: boolean | null;
  };
  note: string;
}

/** One row of part (d): `refit train` with one rank layout on the shared generated data. */
export interface DistributedRow {
  setup: string;
  ranks: number;
  /**
   * plain = one process without torch.distributed; ddp and zero1 under DistributedDataParallel (zero1: optimizer
   * states sharded); fsdp: FSDP2's fully_shard (weights, gradients and optimizer states sharded).
   */
  strategy: 'plain' | 'ddp' | 'zero1' | 'fsdp';
  /** Per rank (effective batch = micro-batch × accumulation × ranks stays the same). */
  micro_batch_size: number;
  ok: boolean;
  error?: string;
  steps: number;
  /** Between the first and the last step event (start-up and the warm-up step excluded). */
  examples_per_s?: number;
  /** examples/s over plain's in the same run. */
  ratio_vs_plain?: number | null;
  /** The highest rank's peak: max_memory_reserved on CUDA, peak RSS on CPU. */
  peak_bytes?: number;
  /** CUDA: the highest rank's max_memory_allocated. */
  peak_allocated?: number;
  /** Every rank's peak (as peak_bytes), in rank order. */
  rank_peaks?: number[];
  /** max over steps of |loss − plain's| / |plain's|; null for plain itself. */
  max_rel_loss_diff?: number | null;
  /** The whole refit train call, start-up included. */
  wall_s?: number;
}

/** Part (d): distributed training against plain, same data, seed and effective batch, dropout 0. */
export interface DistributedSection {
  model: string;
  examples: number;
  batch_size: number;
  micro_batch_size: number;
  max_seq_len: number;
  precision: string;
  /** GPUs the worker sees (null before the part ran). */
  gpus: number | null;
  rows: DistributedRow[];
  /** Rows not run because this torch cannot train their strategy here (fsdp without a working FSDP2), and why. */
  skipped: { setup: string; ranks: number; strategy: DistributedRow['strategy']; reason: string }[];
  stopped_early: string | null;
  note: string;
}

/** One lever of part (e): its run against the same run without it. */
export interface LeverRow {
  lever: string;
  /** the config overrides that turn it on */
  overrides: string[];
  base: VariantResult;
  with_lever?: VariantResult;
  error?: string;
  /** reserved + non-PyTorch on CUDA (CPU: peak RSS) of the run with the lever, and what the planner predicted */
  measured_peak_device?: number | null;
  planned_peak_device?: number | null;
  /** (planned − measured) / measured */
  peak_rel_err?: number | null;
  /** measured peak with the lever / without it */
  peak_vs_base?: number | null;
  /** time per example with the lever / without it */
  step_time_vs_base?: number | null;
  /**
   * offload: milliseconds the lever adds to an optimizer step (measured, with − without), the planner's bound for
   * them if nothing overlapped (cost.ts offloadMs: the copies over the host link and the host's step), and the share
   * of that bound the worker hid behind compute (1 − added / bound; the gradients' copies run during backward)
   */
  offload_ms_per_step?: number | null;
  offload_ms_bound?: number | null;
  offload_overlap?: number | null;
}

/** Part (e): the levers of issue 21, each measured against the same run without it. */
export interface LeversSection {
  model: string;
  seq_len: number;
  effective_batch: number;
  micro_batch_size: number;
  rows: LeverRow[];
  note: string;
}

/** The whole gpu-check.json. */
export interface CheckResults {
  tool: 'refit gpu-check';
  version: 1;
  command: string;
  mode: 'gpu' | 'cpu-quick';
  started_at: string;
  updated_at: string;
  elapsed_s: number;
  budget_s: number;
  complete: boolean;
  aborted: string | null;
  device: {
    cuda: boolean;
    name: string | null;
    total_memory: number | null;
    torch_version: string;
    python_version: string;
    bf16: boolean;
    sdpa: boolean;
    fused_adamw: boolean;
    gpu_spec: string | null;
  };
  grid: GridSection;
  scenario: ScenarioSection;
  throughput: ThroughputSection;
  distributed: DistributedSection;
  levers: LeversSection;
  notes: string[];
}
