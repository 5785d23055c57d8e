// The lever table's types and value lists: what one entry of the table is (Lever), the config section and decision
// each entry adds a field to, and the small schema helpers the two sections of the table share. Types and constants
// only; the table itself is memory-levers.ts (memory.*) and distributed-levers.ts (distributed.*), its derived views
// levers.ts.

/** Precision of a run: fp32, or autocast fp16/bf16 with fp32 master weights. */
export const PRECISIONS = Object.freeze(['fp32', 'fp16', 'bf16'] as const);
export type Precision = (typeof PRECISIONS)[number];
/** Attention implementation: eager (materialises s² scores) or SDPA (flash / memory-efficient). */
export const ATTENTIONS = Object.freeze(['eager', 'sdpa'] as const);
export type Attention = (typeof ATTENTIONS)[number];
/**
 * Optimizer: torch AdamW (foreach), fused AdamW, AdamW with blockwise 8-bit moments, or SGD with momentum (planned,
 * not a config value).
 */
export const OPTIMIZERS = Object.freeze(['adamw', 'adamw-fused', 'adamw-8bit', 'sgd'] as const);
export type Optimizer = (typeof OPTIMIZERS)[number];
/** Padding: each micro-batch to its longest example (rounded), or every batch to max_seq_len. */
export const PADDINGS = Object.freeze(['dynamic', 'max'] as const);
export type Padding = (typeof PADDINGS)[number];
/** How examples are grouped into micro-batches under dynamic padding. */
export const BATCHINGS = Object.freeze(['buckets', 'token_budget'] as const);
export type Batching = (typeof BATCHINGS)[number];
/**
 * What a run keeps in host memory instead of on the device: nothing, the optimizer (its states and the fp32 master
 * copy, the step on the host), the saved activations, or both.
 */
export const OFFLOADS = Object.freeze(['none', 'optimizer', 'activations', 'all'] as const);
export type Offload = (typeof OFFLOADS)[number];
/**
 * Levers that change the numerics (what is trained or how its states are rounded): fit and `memory: auto` try
 * them only when the user allows them (`memory.allow`, `refit fit --allow`), and only when no configuration with the
 * config's own numerics fits.
 */
export const PERMITS = Object.freeze(['adamw-8bit', 'lora', 'freeze'] as const);
export type Permit = (typeof PERMITS)[number];
/** `memory.mode`: auto plans and fits the levers to the device; manual takes them as configured. */
export const MEMORY_MODES = Object.freeze(['auto', 'manual'] as const);
export type MemoryMode = (typeof MEMORY_MODES)[number];

/**
 * The `memory` section of a resolved config: one field per entry of LEVERS (keep the two in step; a test
 * checks it).
 */
export interface MemoryConfig {
  mode: MemoryMode;
  max_seq_len: number;
  padding: Padding;
  batching: Batching;
  max_tokens?: number;
  micro_batch_size?: number;
  grad_accumulation?: number;
  precision: 'auto' | Precision;
  attention: 'auto' | Attention;
  grad_checkpointing: 'auto' | boolean;
  freeze_layers: number;
  optimizer: Exclude<Optimizer, 'sgd'>;
  offload: 'auto' | Offload;
  /** 'auto' or a size such as '11.75GiB' / '12GB' (parsed by the memory module). */
  budget: string;
  allow_shorter_seq: boolean;
  /** the levers that change the numerics fit and `memory: auto` may use when nothing exact fits */
  allow: Permit[];
}

/**
 * The lever fields of the worker's `load` command, with the values the worker accepts (sgd too: the worker
 * implements it and the planner prices it): one field per entry with `decision.load` (a test checks it). The protocol's
 * `LoadCommand` and train's decision take these types.
 */
export interface LoadLevers {
  precision: Precision;
  attention: Attention;
  grad_checkpointing: boolean;
  freeze_layers: number;
  optimizer: Optimizer;
  offload: Offload;
  /** LoRA adapters of this rank (0: off; model.lora.rank) */
  lora_rank: number;
}

/**
 * What a run trains with for each lever (train's decision, plan.json's `decision`): `auto` resolved, the micro-batch
 * split decided. One field per entry with `decision` (a test checks it); the `load` ones come from LoadLevers.
 */
export interface RunLevers extends Omit<LoadLevers, 'optimizer'> {
  micro_batch_size: number;
  grad_accumulation: number;
  padding: Padding;
  batching: Batching;
  max_tokens?: number;
  max_seq_len: number;
  optimizer: MemoryConfig['optimizer'];
}

/** The values of the levers fit searches: one field per entry with `fit` (a test checks it). */
export interface FitLevers {
  precision: Precision;
  attention: Attention;
  grad_checkpointing: boolean;
  padding: Padding;
  freeze_layers: number;
  offload: Offload;
  lora_rank: number;
  optimizer: MemoryConfig['optimizer'];
}

/** The levers the supervisor may change after an OOM (the effective batch is never among them). */
export interface RecoveryLevers {
  micro_batch_size: number;
  grad_checkpointing: boolean;
  max_seq_len: number;
  /** absent: none (a run state written before the lever) */
  offload?: Offload;
}

/** The numbers of a parsed OOM message recovery uses (a subset of the doctor's OomReport). */
export interface OomNumbers {
  kind: string;
  requested_bytes?: number;
  free_bytes?: number;
}

/** One recovery decision: which lever changes, from what to what, and why. */
export type RecoveryAction =
  | { kind: 'smaller_micro_batch'; from: number; to: number; reason: string }
  | { kind: 'grad_checkpointing'; from: false; to: true; reason: string }
  | { kind: 'shorter_seq'; from: number; to: number; reason: string }
  | { kind: 'offload'; from: Offload; to: Offload; reason: string };

/**
 * What a recovery step sees: the levers now, the failed micro-batch's size, the OOM's numbers, the user's
 * permissions.
 */
export interface RecoveryInput {
  levers: RecoveryLevers;
  failed_size: number;
  report: OomNumbers;
  allow_shorter_seq: boolean;
  /** The smallest micro-batch worth trying: the number of ranks (each keeps at least one example); default 1. */
  min_micro_batch?: number;
  /** The ranks of the run (default 1): offload is one process's. */
  world?: number;
}

/** A window is never shortened below this many tokens. */
export const MIN_SEQ_LEN = 32;

/** The device facts fit's choices depend on (a subset of GpuSpec). */
export interface FitDevice {
  name: string;
  bf16: boolean;
  tensor16_tflops?: number;
  /** false where the worker's torch has no scaled_dot_product_attention */
  sdpa?: boolean;
}

/** What a lever's fit choices may depend on beyond the device: the config's value and the model's depth. */
export interface FitChoiceContext<T> {
  current: T;
  num_hidden_layers: number;
  /** the engine that runs the config and its ranks (refit's worker offloads in one process only) */
  engine: 'refit' | 'hf';
  world: number;
}

/** A lever's place in `fitConfig`'s search: its loop order (outer first) and the values tried on a device. */
export interface FitRole<T> {
  order: number;
  /** The values tried, in order; `allowed` is what the user restricted it to (undefined: no restriction). */
  choices(device: FitDevice, allowed: readonly T[] | undefined, ctx: FitChoiceContext<T>): readonly T[];
  /**
   * The lever changes the numerics: values other than the config's are tried only when the user allows this
   * (memory.allow / `refit fit --allow`), and a candidate using one is chosen only when no exact one fits.
   */
  permit?: Permit;
  /**
   * A value that costs speed whatever else changes (offload: the host link): a candidate using it ranks after every
   * candidate without it that fits, fastest first among themselves.
   */
  last_resort?(value: T): boolean;
  /** Searched only when the data's lengths are known (else the config's value is kept). */
  needs_lengths?: boolean;
  /**
   * Its column in `refit fit`'s table: the header and the width (booleans show as on/off), and the word after its
   * value in the verdict line (e.g. `dynamic padding`)
   */
  column: { title: string; width: number; unit?: string };
  /** The one-line reason when no allowed value runs on the device (fit fails with E_FIT). */
  none?(device: FitDevice, allowed: readonly T[] | undefined): string;
}

/** What the doctor's general advice may quote: the budget and the numbers sentence of the OOM message. */
export interface AdviceContext {
  budget_text: string;
  numbers: string;
}

/** The doctor's general advice for a lever (no run config needed); ranked fastest first. */
export interface LeverAdvice {
  rank: number;
  title: string;
  speed: string;
  config?: Record<string, string | number | boolean>;
  detail: (c: AdviceContext) => string;
  /** Still helps when one tensor is larger than the whole card (a smaller batch or sequence). */
  single_tensor?: boolean;
}

/** A `refit plan` / `refit fit` flag: the option's name (no dashes) and, per command, its placeholder and help. */
export interface LeverFlag {
  name: string;
  plan?: { arg: string; help: string };
  fit?: { arg: string; help: string };
}

/** One `memory.*` key. Entries with `prices` are levers the planner prices; the rest are settings of the levers. */
export interface Lever {
  /** the key's last part; for levers also the RunShape / Decision field it sets */
  name: string;
  /** the dotted config key */
  key: string;
  /** JSON schema of the config value, and the words used in errors for what it accepts */
  schema: Record<string, unknown>;
  expected: string;
  /** the config default (absent: an optional key) */
  default?: string | number | boolean | readonly string[];
  /** the values a run takes (enum levers): what the planner, the protocol and the worker accept */
  values?: readonly string[];
  /** the flag of `refit plan` / `refit fit` that sets it */
  flag?: LeverFlag;
  /** how the planner prices it (src/memory/profiles/terms.ts), in words */
  prices?: string;
  fit?: FitRole<any>;
  /**
   * a field of train's decision (RunLevers): its column in plan.json's `decision` (and report.html's table); with
   * `load`, also a field of the worker's `load` command (LoadLevers), `infer` being the value predict, eval and export
   * load the model with when they do not say
   */
  decision?: { order: number; load?: { infer: string | number | boolean } };
  /** its place in the OOM recovery order (1 first) and the step it takes, or null when it has nothing left */
  recovery?: { order: number; step(o: RecoveryInput): RecoveryAction | null };
  advice?: LeverAdvice;
}

/** A config value that is one of `values`, with the words errors use. */
export const oneOf = (...values: Array<string | boolean>) => ({
  schema: { enum: values },
  expected: `one of ${values.join(', ')}`,
});
/** An integer config value from `min` (to `max` when given). */
export const int = (min: number, max?: number) => ({
  schema: { type: 'integer', minimum: min, ...(max !== undefined ? { maximum: max } : {}) },
  expected: max !== undefined ? `an integer from ${min} to ${max}` : `an integer ≥ ${min}`,
});
/** A boolean config value. */
export const bool = () => ({ schema: { type: 'boolean' }, expected: 'true or false' });
