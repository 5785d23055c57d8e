// `memory: auto` exactly as `refit train` decides it (resolveConfig → decideMemory → the batch planner), and
// the DeepKE-like manual configuration, turned into variant specs for the worker.
import { planEpoch, splitLogicalBatch, type BatchPolicy } from '../../src/batch/index.ts';
import { resolveConfig } from '../../src/config/index.ts';
import { planMemory, type MemoryPlan, type ModelDims } from '../../src/memory/index.ts';
import { decideMemory, type Decision, type PlanFile } from '../../src/run/index.ts';
import type { MicroBatch } from '../../src/worker/index.ts';
import type { CheckContext } from './context.ts';
import type { VariantResult } from './types.ts';
import { NUM_LABELS, type LoadSpec } from './worker.ts';

/** The run configuration's memory keys for one scenario. */
export interface AutoInput {
  preset: string;
  dims: ModelDims;
  batch_size: number;
  max_seq_len: number;
  lengths: Int32Array;
  /** e.g. '11.75GiB'; ignored on CPU (no budget there). */
  budget?: string;
  extra_overrides?: string[];
}

/** decideMemory's plan file for `memory: auto` with the given effective batch, window and budget. */
export function autoPlan(ctx: CheckContext, input: AutoInput): PlanFile {
  const overrides = [
    `model.preset=${input.preset}`,
    `train.batch_size=${input.batch_size}`,
    `memory.max_seq_len=${input.max_seq_len}`,
    'memory.mode=auto',
    'memory.padding=dynamic',
    'memory.optimizer=adamw-fused',
    `device=${ctx.device}`,
    ...(input.budget && ctx.device === 'cuda' ? [`memory.budget=${input.budget}`] : []),
    ...(input.extra_overrides ?? []),
  ];
  const config = resolveConfig({ overrides, cwd: ctx.tmp_dir });
  return decideMemory({
    config,
    dims: input.dims,
    caps: ctx.caps,
    device: ctx.device,
    lengths: input.lengths,
    num_labels: NUM_LABELS,
  });
}

/** The levers of a decision as a load spec. */
export function loadSpecOf(d: Decision, dims: ModelDims, total_steps: number): LoadSpec {
  return {
    dims,
    device: d.device,
    precision: d.precision,
    attention: d.attention,
    grad_checkpointing: d.grad_checkpointing,
    optimizer: d.optimizer,
    offload: d.offload,
    budget_bytes: d.budget_bytes,
    total_steps,
    lora_rank: d.lora_rank,
  };
}

/** The result's config block of a decision. */
export function configOf(d: Decision): VariantResult['config'] {
  return {
    precision: d.precision,
    attention: d.attention,
    grad_checkpointing: d.grad_checkpointing,
    optimizer: d.optimizer,
    padding: d.padding,
    batching: d.batching,
    batch_size: d.batch_size,
    micro_batch_size: d.micro_batch_size,
    grad_accumulation: d.grad_accumulation,
    max_seq_len: d.max_seq_len,
    budget_bytes: d.budget_bytes ?? null,
  };
}

/** DeepKE's configuration: fp32, eager attention, every batch padded to max_seq_len, one micro-batch, torch AdamW. */
export function deepkeDecision(
  device: string,
  batch_size: number,
  max_seq_len: number,
  budget_bytes: number | undefined,
): Decision {
  return {
    device,
    batch_size,
    micro_batch_size: batch_size,
    grad_accumulation: 1,
    precision: 'fp32',
    attention: 'eager',
    grad_checkpointing: false,
    padding: 'max',
    batching: 'buckets',
    max_seq_len,
    freeze_layers: 0,
    optimizer: 'adamw',
    offload: 'none',
    lora_rank: 0,
    budget_bytes,
    reasons: ['DeepKE-like: fp32, eager attention, pad every batch to max_seq_len, no accumulation'],
  };
}

/** The first `count` logical batches of epoch 0 under a decision, split into micro-batches as the trainer does. */
export function stepsOf(d: Decision, lengths: Int32Array, count: number): MicroBatch[][] {
  const policy: BatchPolicy = {
    batch_size: d.batch_size,
    micro_batch_size: d.micro_batch_size,
    padding: d.padding,
    batching: d.batching,
    max_tokens: d.max_tokens,
    max_seq_len: d.max_seq_len,
  };
  const out: MicroBatch[][] = [];
  for (let epoch = 0; out.length < count; epoch++) {
    // Only full logical batches: every timed step has the effective batch.
    const batches = planEpoch({
      lengths,
      batch_size: d.batch_size,
      padding: d.padding,
      seed: 42,
      epoch,
    }).filter((b) => b.length === d.batch_size);
    if (batches.length === 0)
      throw new RangeError(`fewer than ${d.batch_size} examples: no full logical batch`);
    for (const b of batches) {
      if (out.length >= count) break;
      out.push(splitLogicalBatch({ indices: b, lengths, policy }));
    }
  }
  return out;
}

/** The parts of a plan a variant result keeps. */
export function planSummary(plan: MemoryPlan | null): VariantResult['plan'] {
  return (
    plan && {
      peak_allocated_bytes: plan.peak_allocated_bytes,
      peak_reserved_bytes: plan.peak_reserved_bytes,
      peak_device_bytes: plan.peak_device_bytes,
      peak_phase: plan.peak_phase,
    }
  );
}

/** The refit engine's plan for a max-padding decision (its worst shape is micro-batch × max_seq_len). */
export function maxPaddingPlan(ctx: CheckContext, d: Decision, dims: ModelDims): VariantResult['plan'] {
  return planSummary(
    planMemory({
      model: dims,
      run: {
        engine: 'refit',
        mode: 'train',
        batch_size: d.micro_batch_size,
        seq_len: d.max_seq_len,
        precision: d.precision,
        attention: d.attention,
        grad_checkpointing: d.grad_checkpointing,
        optimizer: d.optimizer,
        num_labels: NUM_LABELS,
        head: 'entity-start',
      },
      gpu: ctx.gpu,
    }),
  );
}
