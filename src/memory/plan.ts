// planMemory: the predicted peak of one run (allocated → reserved → device) with its breakdown and verdict.
// Pure: the engine profile gives the allocator-level peak; the reserve factor and CUDA context are calibrated.
import { RefitError } from '../errors.ts';
import { FSDP_NO_FP16, SHARDED_NO_8BIT, strategyHolds, strategyTrains } from './distributed-levers.ts';
import { ATTENTIONS, OPTIMIZERS, PRECISIONS } from './levers.ts';
import { checkSeqLen, validateDims } from './models.ts';
import { PROFILES } from './profiles/index.ts';
import { CONTEXT_BYTES, RESERVE } from './profiles/coefficients.ts';
import type { GpuSpec, MemoryPlan, ModelDims, RunShape } from './types.ts';

const SEGMENT_BYTES = 2 * 2 ** 20; // reserved memory comes in 2 MiB-rounded segments

/** Allocated → reserved (caching-allocator slack, calibrated), never below allocated, 2 MiB-rounded. */
export function reservedFromAllocated(allocated: number): number {
  const r = Math.max(allocated, allocated * RESERVE.factor + RESERVE.bytes);
  return Math.ceil(r / SEGMENT_BYTES) * SEGMENT_BYTES;
}

/** Checks a run shape (positive sizes, seq-len within positions); throws a one-line RefitError. */
export function validateRun(model: ModelDims, run: RunShape): void {
  const choices: Array<[keyof RunShape, readonly unknown[]]> = [
    ['engine', Object.keys(PROFILES)],
    ['mode', ['train', 'infer']],
    ['precision', PRECISIONS],
    ['attention', ATTENTIONS],
    ['optimizer', OPTIMIZERS],
  ];
  for (const [k, values] of choices) {
    if (!values.includes(run[k]))
      throw new RefitError(
        'E_RUN_SHAPE',
        `${k} must be one of ${values.join(', ')}, got ${JSON.stringify(run[k])}`,
      );
  }
  for (const k of ['batch_size', 'num_labels'] as const) {
    if (!Number.isInteger(run[k]) || run[k] <= 0)
      throw new RefitError('E_RUN_SHAPE', `${k} must be a positive integer, got ${run[k]}`);
  }
  const f = run.freeze_layers ?? 0;
  if (!Number.isInteger(f) || f < 0 || f > model.num_hidden_layers) {
    throw new RefitError(
      'E_RUN_SHAPE',
      `freeze_layers must be an integer from 0 to ${model.num_hidden_layers}, got ${f}`,
    );
  }
  if (
    (run.offload ?? 'none') !== 'none' &&
    (run.engine !== 'refit' || (run.ranks ?? 1) > 1 || run.data_parallel! > 1)
  )
    throw new RefitError('E_RUN_SHAPE', "offload runs in refit's worker with one process; use offload none");
  const r = run.lora_rank ?? 0;
  if (!Number.isInteger(r) || r < 0)
    throw new RefitError('E_RUN_SHAPE', `lora_rank must be an integer ≥ 0, got ${r}`);
  if (run.mode === 'train' && !strategyTrains(run.strategy, run.precision))
    throw new RefitError('E_RUN_SHAPE', `${FSDP_NO_FP16}; use precision bf16 or fp32`);
  if (run.mode === 'train' && !strategyHolds(run.strategy, run.optimizer))
    throw new RefitError('E_RUN_SHAPE', `${SHARDED_NO_8BIT}; use strategy ddp or zero1, or optimizer adamw`);
  checkSeqLen(model, run.seq_len);
}

/** Predicted peak memory of `run` on `model` (and whether it fits `gpu` when given). */
export function planMemory(opts: { model: ModelDims; run: RunShape; gpu?: GpuSpec }): MemoryPlan {
  const { model, run, gpu } = opts;
  validateDims(model, 'model');
  validateRun(model, run);
  const est = PROFILES[run.engine].estimate(model, run, gpu);
  const allocated = est.peak_allocated_bytes;
  const reserved = reservedFromAllocated(allocated);
  const device = reserved + CONTEXT_BYTES;
  const plan: MemoryPlan = {
    engine: run.engine,
    mode: run.mode,
    config: {
      ...run,
      head: run.head ?? 'entity-start',
      freeze_layers: run.freeze_layers ?? 0,
      offload: run.offload ?? 'none',
      model,
      ...(gpu ? { gpu: gpu.name } : {}),
    },
    params: est.params,
    peak_allocated_bytes: allocated,
    peak_reserved_bytes: reserved,
    peak_device_bytes: device,
    breakdown: { ...est.parts, context: CONTEXT_BYTES, allocator_slack: reserved - allocated },
    peak_phase: est.peak_phase,
    ...(est.per_rank ? { per_rank: est.per_rank } : {}),
    ...(est.host ? { host: est.host } : {}),
  };
  if (gpu) {
    plan.budget_bytes = gpu.memory_bytes;
    plan.fits = device <= gpu.memory_bytes;
  }
  return plan;
}
