// The lever table, one entry per `memory.*` and `distributed.*` key: config key, schema and default, the values a run
// takes, the plan/fit flags, how the planner prices it, its place in fit's search and in OOM recovery, the
// doctor's advice.
// A table: data plus small per-entry callbacks (fit choices, a recovery step, advice text); no I/O, no
// imports of logic.
// The config schema and defaults, the plan/fit flags, fit's search, the supervisor's recovery, the doctor's general
// fixes, the web planner, train's decision, the worker's `load` command and the protocol's value types are all read
// from here (docs/architecture.md).

// The distributed.* section's entries (the same Lever shape; that file imports only this file's types).
import { DISTRIBUTED_LEVERS } from './distributed-levers.ts';

/** Precision of a run: fp32, or autocast fp16/bf16 with fp32 master weights. */
export const PRECISIONS = Object.freeze(['fp32', 'fp16', 'bf16'] as const);
export type Precision = (typeof PRECISIONS)[number];
/** Attention implementation: eager (materialises s² scores) or SDPA (flash / memory-efficient). */
export const ATTENTIONS = Object.freeze(['eager', 'sdpa'] as const);
export type Attention = (typeof ATTENTIONS)[number];
/** Optimizer: torch AdamW (foreach), fused AdamW, or SGD with momentum (planned, not a config value). */
export const OPTIMIZERS = Object.freeze(['adamw', 'adamw-fused', 'sgd'] as const);
export type Optimizer = (typeof OPTIMIZERS)[number];
/** Padding: each micro-batch to its longest example (rounded), or every batch to max_seq_len. */
export const PADDINGS = Object.freeze(['dynamic', 'max'] as const);
export type Padding = (typeof PADDINGS)[number];
/** How examples are grouped into micro-batches under dynamic padding. */
export const BATCHINGS = Object.freeze(['buckets', 'token_budget'] as const);
export type Batching = (typeof BATCHINGS)[number];
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
  /** 'auto' or a size such as '11.75GiB' / '12GB' (parsed by the memory module). */
  budget: string;
  allow_shorter_seq: boolean;
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

/** The levers the supervisor may change after an OOM (the effective batch is never among them). */
export interface RecoveryLevers {
  micro_batch_size: number;
  grad_checkpointing: boolean;
  max_seq_len: number;
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
  | { kind: 'shorter_seq'; from: number; to: number; reason: string };

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
}

/** A window is never shortened below this many tokens. */
export const MIN_SEQ_LEN = 32;

/** The device facts fit's choices depend on (a subset of GpuSpec). */
export interface FitDevice {
  name: string;
  bf16: boolean;
  tensor16_tflops?: number;
}

/** A lever's place in `fitConfig`'s search: its loop order (outer first) and the values tried on a device. */
export interface FitRole<T> {
  order: number;
  /** The values tried, in order; `allowed` is what the user restricted it to (undefined: no restriction). */
  choices(device: FitDevice, allowed: readonly T[] | undefined): readonly T[];
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
  default?: string | number | boolean;
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

const oneOf = (...values: Array<string | boolean>) => ({
  schema: { enum: values },
  expected: `one of ${values.join(', ')}`,
});
const int = (min: number) => ({ schema: { type: 'integer', minimum: min }, expected: `an integer ≥ ${min}` });
const bool = () => ({ schema: { type: 'boolean' }, expected: 'true or false' });
/** Sizes like 12GB, 11.75GiB, 512MiB, 1000000000B (units case-insensitive), or auto. */
const BUDGET_PATTERN = '^(auto|[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB]))$';

/** Every `memory.*` key in config.yaml order. A table; the callbacks are each entry's own rule. */
const MEMORY_LEVERS: readonly Lever[] = Object.freeze<Lever[]>([
  { name: 'mode', key: 'memory.mode', ...oneOf(...MEMORY_MODES), default: 'auto' },
  {
    name: 'max_seq_len',
    key: 'memory.max_seq_len',
    ...int(8),
    default: 256,
    decision: { order: 9 },
    flag: {
      name: 'seq-len',
      plan: { arg: '<n>', help: 'padded sequence length' },
      fit: { arg: '<n>', help: 'padded sequence length' },
    },
    prices:
      'activations ∝ s (s² with eager attention), int64 inputs ∝ b·s; dynamic padding plans the longest batch',
    recovery: {
      order: 3,
      step: ({ levers, allow_shorter_seq }) =>
        allow_shorter_seq && levers.max_seq_len > MIN_SEQ_LEN
          ? {
              kind: 'shorter_seq',
              from: levers.max_seq_len,
              to: Math.max(MIN_SEQ_LEN, Math.floor(levers.max_seq_len / 2)),
              reason: 'micro-batch 1 with checkpointing still OOM; memory.allow_shorter_seq is on',
            }
          : null,
    },
    advice: {
      rank: 6,
      title: 'Lower max_seq_len',
      speed: 'faster, but truncates long examples (changes results)',
      config: { 'memory.max_seq_len': 256 },
      single_tensor: true,
      detail: () =>
        'Activations grow with seq (eager attention with seq²); check with `refit data` how many examples ' +
        'are longer first.',
    },
  },
  {
    name: 'padding',
    key: 'memory.padding',
    ...oneOf(...PADDINGS),
    default: 'dynamic',
    values: PADDINGS,
    decision: { order: 6 },
    prices: 'sets the planned length: the longest example rounded up (dynamic) or max_seq_len (max)',
    advice: {
      rank: 3,
      title: 'Pad each batch to its longest example (dynamic padding)',
      speed: 'faster',
      config: { 'memory.padding': 'dynamic' },
      detail: () =>
        'Padding every batch to max_seq_len wastes memory and time on pad tokens; relation-extraction sentences are ' +
        'mostly far shorter than 512 tokens.',
    },
  },
  {
    name: 'batching',
    key: 'memory.batching',
    ...oneOf(...BATCHINGS),
    default: 'buckets',
    values: BATCHINGS,
    decision: { order: 7 },
  },
  { name: 'max_tokens', key: 'memory.max_tokens', ...int(8), decision: { order: 8 } },
  {
    name: 'micro_batch_size',
    key: 'memory.micro_batch_size',
    ...int(1),
    decision: { order: 1 },
    flag: { name: 'batch-size', plan: { arg: '<n>', help: 'micro-batch size' } },
    prices: 'activations, inputs and eager s² tensors ∝ b; model states do not change',
    recovery: {
      order: 1,
      step: ({ levers, failed_size, report, min_micro_batch }) => {
        // Several ranks: a micro-batch is split over them, so below one example a rank there is nothing to save.
        const floor = Math.max(1, min_micro_batch ?? 1);
        const current = Math.min(levers.micro_batch_size, Math.max(1, failed_size));
        if (current <= floor) return null;
        let to = Math.max(floor, Math.floor(current / 2));
        let reason =
          floor > 1
            ? `halved the micro-batch, at least ${floor}: one example a rank`
            : 'halved the micro-batch';
        const { requested_bytes: req, free_bytes: free } = report;
        if (req && free !== undefined && req > free) {
          // An allocation scales with the micro-batch, so free/requested bounds the size that would have fitted.
          const scaled = Math.max(floor, Math.floor(current * (free / req)));
          if (scaled < to) {
            to = scaled;
            reason = `requested ${req} B with ${free} B free: scaled the micro-batch by free/requested`;
          }
        }
        return { kind: 'smaller_micro_batch', from: levers.micro_batch_size, to, reason };
      },
    },
    advice: {
      rank: 4,
      title: 'Halve the micro-batch and double gradient accumulation (same effective batch)',
      speed: 'slightly slower (~5 %)',
      single_tensor: true,
      detail: (c) =>
        `Activation memory is proportional to the micro-batch.${c.numbers} Run \`refit doctor -c CONFIG\` or ` +
        `\`refit fit --gpu ${c.budget_text}\` for the exact size.`,
    },
  },
  {
    name: 'grad_accumulation',
    key: 'memory.grad_accumulation',
    ...int(1),
    decision: { order: 2 },
    prices: 'not at all: micro-batches run one after another (the micro-batch is ceil(batch / accumulation))',
  },
  {
    name: 'precision',
    key: 'memory.precision',
    ...oneOf('auto', ...PRECISIONS),
    default: 'auto',
    values: PRECISIONS,
    decision: { order: 3, load: { infer: 'fp32' } },
    flag: {
      name: 'precision',
      plan: { arg: '<fp32|fp16|bf16>', help: 'fp32, or autocast fp16/bf16 with fp32 master weights' },
      fit: { arg: '<list>', help: 'precisions to consider, e.g. fp32,bf16 (default: all the card supports)' },
    },
    prices:
      'activation coefficients per class (fp32 / autocast); autocast caches 16-bit copies of Linear weights',
    fit: {
      order: 1,
      // By default bf16 where the card has it (Ampere+), else fp16 autocast where it has 16-bit tensor cores (or is
      // unknown); fp16 may always be asked for explicitly, bf16 never on a card without it.
      choices: (gpu: FitDevice, allowed: readonly Precision[] | undefined): readonly Precision[] =>
        allowed
          ? allowed.filter((p) => p !== 'bf16' || gpu.bf16)
          : ['fp32', ...(gpu.bf16 ? ['bf16' as const] : gpu.tensor16_tflops !== 0 ? ['fp16' as const] : [])],
      none: (gpu, allowed) =>
        `none of the allowed precisions (${allowed?.join(', ')}) runs on ${gpu.name}: bf16 needs an Ampere ` +
        `or newer card`,
    } satisfies FitRole<Precision>,
    advice: {
      rank: 1,
      title: 'Train with bf16 autocast (fp16 on cards without bf16)',
      speed: 'faster (tensor cores)',
      config: { 'memory.precision': 'bf16' },
      detail: () =>
        'Saved activations take 2 bytes instead of 4 (master weights and AdamW states stay fp32), roughly halving ' +
        'activation memory, which dominates at large batch × sequence length.',
    },
  },
  {
    name: 'attention',
    key: 'memory.attention',
    ...oneOf('auto', 'sdpa', 'eager'),
    default: 'auto',
    values: ATTENTIONS,
    decision: { order: 4, load: { infer: 'eager' } },
    flag: {
      name: 'attention',
      plan: { arg: '<eager|sdpa>', help: 'attention implementation' },
      fit: { arg: '<list>', help: 'attention backends to consider (default eager,sdpa)' },
    },
    prices:
      'eager keeps b·heads·s² scores, probabilities and dropout masks per layer; SDPA keeps none (refit: a ' +
      'padding mask)',
    fit: {
      order: 2,
      choices: (_gpu: FitDevice, allowed: readonly Attention[] | undefined): readonly Attention[] =>
        allowed ?? ['sdpa', 'eager'],
    } satisfies FitRole<Attention>,
    advice: {
      rank: 2,
      title: 'Use SDPA attention',
      speed: 'faster',
      config: { 'memory.attention': 'sdpa' },
      detail: () =>
        'Eager attention stores batch × heads × seq² scores, probabilities and dropout masks per layer ' +
        '(at seq 512 with 12 heads: 9 bytes × 12 × 512² = 27 MiB per example per layer); SDPA keeps none of them.',
    },
  },
  {
    name: 'grad_checkpointing',
    key: 'memory.grad_checkpointing',
    ...oneOf('auto', true, false),
    default: 'auto',
    decision: { order: 5, load: { infer: false } },
    flag: {
      name: 'grad-checkpointing',
      plan: { arg: '<on|off>', help: 'gradient checkpointing' },
      fit: { arg: '<on|off|auto>', help: 'force checkpointing on/off (default auto)' },
    },
    prices: "full activations for one layer only, plus each checkpointed layer's fp32 input",
    fit: {
      order: 3,
      choices: (_gpu: FitDevice, allowed: readonly boolean[] | undefined): readonly boolean[] =>
        allowed ?? [false, true],
    } satisfies FitRole<boolean>,
    recovery: {
      order: 2,
      step: ({ levers }) =>
        levers.grad_checkpointing
          ? null
          : {
              kind: 'grad_checkpointing',
              from: false,
              to: true,
              reason: 'micro-batch is 1 example: recompute activations in backward',
            },
    },
    advice: {
      rank: 5,
      title: 'Turn on gradient checkpointing',
      speed: 'slower (~25–35 %, recomputes the forward)',
      config: { 'memory.grad_checkpointing': true },
      detail: () =>
        "Keeps only each layer's input instead of all its activations (about L× less activation memory for L layers).",
    },
  },
  {
    name: 'freeze_layers',
    key: 'memory.freeze_layers',
    ...int(0),
    default: 0,
    decision: { order: 10, load: { infer: 0 } },
    flag: {
      name: 'freeze-layers',
      plan: { arg: '<n>', help: 'freeze the embeddings and the lowest n layers' },
      fit: { arg: '<n>', help: 'freeze the embeddings and the lowest n layers' },
    },
    prices:
      'no gradients or optimizer states for the embeddings and the lowest n layers, no activations kept for them',
  },
  {
    name: 'optimizer',
    key: 'memory.optimizer',
    ...oneOf('adamw', 'adamw-fused'),
    default: 'adamw',
    values: OPTIMIZERS,
    decision: { order: 11, load: { infer: 'adamw' } },
    flag: { name: 'optimizer', plan: { arg: '<adamw|adamw-fused|sgd>', help: 'optimizer' } },
    prices:
      'AdamW: two fp32 states per trainable parameter (+ a foreach temporary; fused: step counters); SGD: one',
  },
  {
    name: 'budget',
    key: 'memory.budget',
    schema: { type: 'string', pattern: BUDGET_PATTERN },
    expected: 'auto or a size such as 11.75GiB or 12GB',
    default: 'auto',
    prices: "not priced: the device limit a plan is checked against (auto: the card's memory)",
  },
  { name: 'allow_shorter_seq', key: 'memory.allow_shorter_seq', ...bool(), default: false },
]);

/**
 * The lever table: every `memory.*` key, then every `distributed.*` key (that section's entries are declared in
 * distributed-levers.ts), in config.yaml order. The config schema and defaults, the plan/fit flags and the docs read
 * this one list; names are unique across both sections.
 */
export const LEVERS: readonly Lever[] = Object.freeze([...MEMORY_LEVERS, ...DISTRIBUTED_LEVERS]);

/** A lever by name (`precision`, `max_seq_len`, …); throws on an unknown name (a programming error). */
export function lever(name: string): Lever {
  const l = LEVERS.find((x) => x.name === name);
  if (!l) throw new Error(`no lever ${name}`);
  return l;
}

/** The levers fit searches, outer loop first (the micro-batch is always the innermost loop, largest first). */
export const FIT_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.fit).sort((a, b) => a.fit!.order - b.fit!.order),
);

/** The levers train decides, in plan.json's `decision` column order (the fields of RunLevers). */
export const DECISION_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.decision).sort((a, b) => a.decision!.order - b.decision!.order),
);

/** The levers the worker implements: the lever fields of its `load` command (LoadLevers), in that command's order. */
export const LOAD_LEVERS: readonly Lever[] = Object.freeze(DECISION_LEVERS.filter((l) => l.decision!.load));

/**
 * The lever fields of a `load` command: each of LOAD_LEVERS from `levers`, or the value the table loads for inference
 * when `levers` leaves it out (predict, eval and export name only what differs). Key order is LOAD_LEVERS's.
 */
export function loadLevers(levers: Partial<LoadLevers>): LoadLevers {
  const given = levers as Record<string, unknown>;
  return Object.fromEntries(
    LOAD_LEVERS.map((l) => [l.name, given[l.name] ?? l.decision!.load!.infer]),
  ) as unknown as LoadLevers;
}

/** The levers OOM recovery pulls, in order. */
export const RECOVERY_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.recovery).sort((a, b) => a.recovery!.order - b.recovery!.order),
);

/** The levers with general doctor advice, fastest first. */
export const ADVICE_LEVERS: readonly Lever[] = Object.freeze(
  LEVERS.filter((l) => l.advice).sort((a, b) => a.advice!.rank - b.advice!.rank),
);

/**
 * The next lever to pull after an OOM in a micro-batch of `failed_size` examples: the first lever in recovery
 * order with a step left (the micro-batch at least halves, in proportion to free/requested when the message says
 * so; then checkpointing; then a shorter window if allowed). Null when nothing is left to try.
 */
export function chooseRecovery(opts: RecoveryInput): RecoveryAction | null {
  for (const l of RECOVERY_LEVERS) {
    const action = l.recovery!.step(opts);
    if (action) return action;
  }
  return null;
}
