// The `memory.*` section of the lever table, one entry per key in config.yaml order: config key, schema and default,
// the values a run takes, the plan/fit flags, how the planner prices it, its place in fit's search and in OOM
// recovery, the doctor's advice. A table: data plus small per-entry callbacks; levers.ts derives the views.
import {
  ATTENTIONS,
  BATCHINGS,
  MEMORY_MODES,
  MIN_SEQ_LEN,
  OFFLOADS,
  OPTIMIZERS,
  PADDINGS,
  PERMITS,
  PRECISIONS,
  bool,
  int,
  oneOf,
  type Attention,
  type FitDevice,
  type FitRole,
  type MemoryConfig,
  type Lever,
  type Offload,
  type Padding,
  type Precision,
} from './lever-types.ts';

type MemoryOptimizer = MemoryConfig['optimizer'];

/** Sizes like 12GB, 11.75GiB, 512MiB, 1000000000B (units case-insensitive), or auto. */
const BUDGET_PATTERN = '^(auto|[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]|[bB]))$';

/** Every `memory.*` key in config.yaml order. A table; the callbacks are each entry's own rule. */
export const MEMORY_LEVERS: readonly Lever[] = Object.freeze<Lever[]>([
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
      order: 4,
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
    flag: {
      name: 'padding',
      plan: { arg: '<dynamic|max>', help: 'pad each batch to its longest example (dynamic) or to --seq-len' },
      fit: { arg: '<list>', help: 'paddings to consider with --lengths-from (default dynamic,max)' },
    },
    fit: {
      order: 4,
      column: { title: 'padding', width: 7, unit: 'padding' },
      // without the data's lengths both plan the window: only the config's padding is tried then
      needs_lengths: true,
      choices: (_gpu: FitDevice, allowed: readonly Padding[] | undefined): readonly Padding[] =>
        allowed ?? ['dynamic', 'max'],
    } satisfies FitRole<Padding>,
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
      column: { title: 'prec', width: 5 },
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
      column: { title: 'attn', width: 6 },
      choices: (gpu: FitDevice, allowed: readonly Attention[] | undefined): readonly Attention[] =>
        (allowed ?? ['sdpa', 'eager']).filter((a) => a !== 'sdpa' || gpu.sdpa !== false),
      none: (gpu) => `torch has no scaled_dot_product_attention on ${gpu.name}: use memory.attention eager`,
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
      column: { title: 'ckpt', width: 5 },
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
    fit: {
      order: 5,
      column: { title: 'frozen', width: 6, unit: 'layers frozen' },
      permit: 'freeze',
      // allowed: the config's own, then a quarter, half and three quarters of the layers (the top layers train)
      choices: (_gpu, allowed, { current, num_hidden_layers: n }): readonly number[] =>
        allowed ??
        [...new Set([current, ...[0.25, 0.5, 0.75].map((f) => Math.round(f * n))])].filter(
          (k) => k === current || (k > current && k < n),
        ),
    } satisfies FitRole<number>,
  },
  {
    name: 'offload',
    key: 'memory.offload',
    ...oneOf('auto', ...OFFLOADS),
    default: 'auto',
    values: OFFLOADS,
    decision: { order: 12, load: { infer: 'none' } },
    flag: {
      name: 'offload',
      plan: {
        arg: '<none|optimizer|activations|all>',
        help: 'keep these in host memory instead of on the device',
      },
      fit: {
        arg: '<list>',
        help: 'offloads to consider when nothing else fits (default none,activations,optimizer,all)',
      },
    },
    prices:
      'optimizer: no optimizer states or foreach temporary on the device (states, fp32 master copy and gradients in ' +
      'host memory); activations: one layer of saved activations and no checkpoints on the device (the rest in host ' +
      "memory); the card's host link prices the copies",
    fit: {
      order: 6,
      column: { title: 'offload', width: 11, unit: 'offload' },
      // refit's worker offloads in one process only; costs speed, so it ranks after every run that fits without it
      choices: (_gpu, allowed, { engine, world }): readonly Offload[] =>
        engine !== 'refit' || world > 1 ? ['none'] : (allowed ?? ['none', 'activations', 'optimizer', 'all']),
      last_resort: (v) => v !== 'none',
    } satisfies FitRole<Offload>,
    recovery: {
      order: 3,
      // activations first (the optimizer step keeps its speed), then both
      step: ({ levers, world }) => {
        const from = levers.offload ?? 'none';
        if (from === 'all' || (world ?? 1) > 1) return null;
        const to: Offload = from === 'none' ? 'activations' : 'all';
        const what = to === 'activations' ? 'the saved activations' : 'the optimizer states too';
        return {
          kind: 'offload',
          from,
          to,
          reason: `checkpointing on and micro-batch 1: ${what} to host memory`,
        };
      },
    },
  },
  {
    name: 'optimizer',
    key: 'memory.optimizer',
    ...oneOf('adamw', 'adamw-fused', 'adamw-8bit'),
    default: 'adamw',
    values: OPTIMIZERS,
    decision: { order: 11, load: { infer: 'adamw' } },
    flag: {
      name: 'optimizer',
      plan: { arg: '<adamw|adamw-fused|adamw-8bit|sgd>', help: 'optimizer (adamw-8bit: 8-bit moments)' },
    },
    prices:
      'AdamW: two fp32 states per trainable parameter (+ a foreach temporary; fused: step counters); adamw-8bit: ' +
      'two bytes per parameter + an fp32 scale per 256 values per state (+ the largest tensor as 3 fp32 buffers ' +
      'in the step); SGD: one',
    fit: {
      order: 7,
      column: { title: 'optim', width: 10 },
      permit: 'adamw-8bit',
      // allowed: the config's optimizer, then 8-bit AdamW
      choices: (_gpu, allowed, { current }): readonly MemoryOptimizer[] =>
        allowed ?? [...new Set<MemoryOptimizer>([current, 'adamw-8bit'])],
    } satisfies FitRole<MemoryOptimizer>,
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
  {
    name: 'allow',
    key: 'memory.allow',
    schema: { type: 'array', items: { enum: [...PERMITS] }, uniqueItems: true },
    expected: `a list of ${PERMITS.join(', ')} (e.g. [lora, adamw-8bit])`,
    default: [],
    flag: {
      name: 'allow',
      fit: {
        arg: '<list>',
        help: `levers that change the numerics fit may use when nothing exact fits (${PERMITS.join(', ')})`,
      },
    },
  },
]);
