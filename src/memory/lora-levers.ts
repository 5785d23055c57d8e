// The `model.lora.*` levers (issue 21), the lever table's third section: LoRA's rank (the lever: 0 is off) and its
// settings. Frozen base weights, trained low-rank adapters on the target Linear layers plus the head, merged into
// the weights at save (a run's folders are a plain BERT). A table; no I/O, no logic.
import { int, type FitRole, type Lever } from './lever-types.ts';

/** The Linear layers of a BERT layer LoRA can adapt (worker/python/refit_worker/lora.py TARGETS). */
export const LORA_TARGETS = Object.freeze([
  'query',
  'key',
  'value',
  'attention_output',
  'intermediate',
  'output',
] as const);
export type LoraTarget = (typeof LORA_TARGETS)[number];
/** The layers adapted by default: PEFT's targets for BERT (the attention's query and value projections). */
export const LORA_DEFAULT_TARGETS: readonly LoraTarget[] = Object.freeze(['query', 'value'] as const);
/** The rank fit tries when the user allows LoRA and the config has none (PEFT's default). */
export const LORA_FIT_RANK = 8;

/** The `model.lora` section of a resolved config (keep in step with LORA_LEVERS). */
export interface LoraConfig {
  /** 0: no LoRA (the whole model trains) */
  rank: number;
  /** the update is scaled by alpha / rank; auto: 2 × rank */
  alpha: number | 'auto';
  dropout: number;
  targets: LoraTarget[];
}

/** Every `model.lora.*` key in config.yaml order. */
export const LORA_LEVERS: readonly Lever[] = Object.freeze<Lever[]>([
  {
    name: 'lora_rank',
    key: 'model.lora.rank',
    ...int(0, 1024),
    default: 0,
    decision: { order: 12, load: { infer: 0 } },
    flag: {
      name: 'lora-rank',
      plan: { arg: '<n>', help: 'LoRA adapters of rank n (0: off); the base weights frozen' },
      fit: { arg: '<n>', help: 'LoRA adapters of rank n (searched with --allow lora: the config’s, then 8)' },
    },
    prices:
      'gradients and optimizer states for the adapters (r × (in + out) per target per layer) and the head only; ' +
      'the frozen base weights without them (in 16 bits under fp16/bf16, no autocast copy; else fp32); ' +
      'activations kept for every adapted layer, plus x·A (and ' +
      'the dropped input with lora dropout) per target',
    fit: {
      order: 8,
      column: { title: 'lora', width: 4, unit: 'LoRA rank' },
      permit: 'lora',
      // allowed: the config's own rank, then PEFT's default 8 when the config trains the whole model
      choices: (_gpu, allowed, { current }): readonly number[] =>
        allowed ?? [...new Set([current, ...(current > 0 ? [] : [LORA_FIT_RANK])])],
    } satisfies FitRole<number>,
  },
  {
    name: 'lora_alpha',
    key: 'model.lora.alpha',
    schema: { anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { const: 'auto' }] },
    expected: 'a number > 0 or auto (2 × rank)',
    default: 'auto',
  },
  {
    name: 'lora_dropout',
    key: 'model.lora.dropout',
    schema: { type: 'number', minimum: 0, exclusiveMaximum: 1 },
    expected: 'a number from 0 to below 1',
    default: 0,
  },
  {
    name: 'lora_targets',
    key: 'model.lora.targets',
    schema: { type: 'array', items: { enum: [...LORA_TARGETS] }, minItems: 1, uniqueItems: true },
    expected: `a list of ${LORA_TARGETS.join(', ')} (e.g. [query, value])`,
    default: LORA_DEFAULT_TARGETS,
  },
]);
