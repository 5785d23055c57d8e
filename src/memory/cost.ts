// Throughput cost model for ranking configurations: GEMM FLOPs at a fraction of peak + activation memory traffic
// at the card's bandwidth, × 4/3 with checkpointing (one more forward), never below a per-layer launch floor.
// Calibrated on the H200 step times (bench/memory-calibrate.ts).
import { COST } from './profiles/coefficients.ts';
import { actClass, trainFeatures } from './profiles/index.ts';
import { hostLink } from './gpus.ts';
import type { GpuSpec, HostBytes, ModelDims, RunShape } from './types.ts';

// A card given only by its size: assume a mid-range consumer card (RTX 3060-class speeds).
const FALLBACK = { fp32_tflops: 12.7, tensor16_tflops: 25, bandwidth_gbs: 360 };

/** Training FLOPs per token: 6 × non-embedding params + attention 12·L·s·h (forward + backward). */
export function trainFlopsPerToken(model: ModelDims, seq_len: number): number {
  const { hidden_size: h, intermediate_size: I, num_hidden_layers: L } = model;
  const perLayer = 4 * h * h + 2 * h * I;
  return 6 * L * perLayer + 12 * L * seq_len * h;
}

/** Bytes of activation traffic a step moves: k × the saved-activation features (layer tensors + eager s²). */
export function activationTrafficBytes(
  model: ModelDims,
  run: RunShape,
  seq: number,
  batch = run.batch_size,
): number {
  const f = trainFeatures(model, {
    ...run,
    seq_len: seq,
    batch_size: batch,
    grad_checkpointing: false,
    offload: 'none',
  });
  return f.layer + f.sq;
}

/** Predicted milliseconds of one micro-batch (forward + backward + its share of the step) of `run` on `gpu`. */
export function microBatchMs(
  model: ModelDims,
  run: RunShape,
  gpu: GpuSpec,
  tokens = run.batch_size * run.seq_len,
): number {
  const cls = actClass(run);
  const L = model.num_hidden_layers;
  const amp = run.precision !== 'fp32';
  const spec = { ...FALLBACK, ...gpu };
  // Pre-Ampere cards without 16-bit tensor cores gain nothing from autocast (Pascal fp16 is slower still).
  const tflops = amp && spec.tensor16_tflops > 0 ? spec.tensor16_tflops : spec.fp32_tflops;
  const recompute = run.grad_checkpointing ? 4 / 3 : 1; // one more forward = +1/3 of forward + backward
  const seq = tokens / run.batch_size;
  const computeMs = ((tokens * trainFlopsPerToken(model, seq)) / (tflops * 1e12 * COST.efficiency)) * 1e3;
  // elementwise ops (LayerNorm, GELU, dropout, softmax, casts) are bandwidth-bound: they scale with the activations
  // without 16-bit tensor cores the casts eat what halving the activations saves: count fp32 traffic
  const trafficRun: RunShape = amp && !(spec.tensor16_tflops > 0) ? { ...run, precision: 'fp32' } : run;
  const trafficMs =
    ((COST.traffic_per_activation_byte * activationTrafficBytes(model, trafficRun, seq)) /
      (spec.bandwidth_gbs * 1e9)) *
    1e3;
  const launchMs =
    L * COST.launch_ms_per_layer[cls] * (run.grad_checkpointing ? COST.checkpoint_launch_factor : 1);
  // The CPU launches kernels asynchronously: the step takes the longer of the two.
  return Math.max(launchMs, (computeMs + trafficMs) * recompute);
}

/**
 * GB/s of a host's AdamW step over its states [derived, not measured]: a memory-bound pass reading and writing the
 * fp32 parameters and both states and reading the gradients, on a desktop's dual-channel memory.
 */
export const HOST_STEP_GBS = 10;

/**
 * Milliseconds an offloaded run adds to one optimizer step of `micro_batches` micro-batches, not overlapped (an upper
 * bound): the saved activations out and back over the card's host link in every micro-batch; the gradients out in
 * every micro-batch (streamed during its backward) and added on the host to the step's after the first, the
 * parameters back once a step, and the host's step over its states.
 */
export function offloadMs(host: HostBytes | undefined, gpu: GpuSpec, micro_batches: number): number {
  if (!host) return 0;
  const link = hostLink(gpu).gbs * 1e9;
  const activations = (2 * host.activations * micro_batches) / link;
  const moved = host.gradients * micro_batches + host.master_weights;
  const adds = 3 * host.gradients * Math.max(0, micro_batches - 1);
  const hostPass = host.gradients + host.master_weights + 2 * host.optimizer + adds;
  const step = host.optimizer > 0 ? moved / link + hostPass / (HOST_STEP_GBS * 1e9) : 0;
  return (activations + step) * 1e3;
}
