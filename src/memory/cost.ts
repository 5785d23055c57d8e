// Throughput cost model for ranking configurations: GEMM FLOPs at a fraction of peak + activation memory traffic
// at the card's bandwidth, × 4/3 with checkpointing (one more forward), never below a per-layer launch floor
// (calibrated on the H200 step times, bench/memory-calibrate.ts); once a step, the optimizer's memory-bound pass over
// the trainable values on the device or the host, and offload's copies over the host link (derived).
import { COST } from './profiles/coefficients.ts';
import { ENGINE_TRAITS, actClass, offloads, trainFeatures, trainableTensors } from './profiles/index.ts';
import { hostLink } from './gpus.ts';
import type { GpuSpec, HostBytes, ModelDims, Optimizer, RunShape } from './types.ts';

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
 * Bytes one optimizer step reads and writes per trainable value, and the kernels it launches per tensor beyond its
 * fused or foreach passes [derived from the kernels torch runs, not measured]:
 * - adamw: torch's foreach AdamW, eight passes (decay the weight; lerp the first moment; scale and addcmul the
 *   second; sqrt, divide and add eps into a temporary; addcdiv the weight): 80 B;
 * - adamw-fused: one kernel reading the weight, gradient and both states and writing back weight and states: 28 B;
 * - adamw-8bit (adamw8bit.py): AdamW's fp32 update over the dequantised moments (88 B with their two extra
 *   passes) around dequantising both moments (uint8 codes to an int32 index, the map's values gathered, times the
 *   scale: 21 B each) and quantising them back (block max and min, divide, bucketize, codes written: 29 B each):
 *   188 B, taken as memory-bound like the rest (assumed: the bucketize's binary search stays in the 1 KiB map's
 *   cache lines); it steps one tensor at a time, about 31 kernels each;
 * - sgd: the update and its weight decay, two passes over weight and gradient: 24 B.
 */
export const OPTIMIZER_STEP: Readonly<
  Record<Optimizer, { bytes_per_value: number; kernels_per_tensor: number }>
> = Object.freeze({
  adamw: { bytes_per_value: 80, kernels_per_tensor: 0 },
  'adamw-fused': { bytes_per_value: 28, kernels_per_tensor: 0 },
  'adamw-8bit': { bytes_per_value: 188, kernels_per_tensor: 31 },
  sgd: { bytes_per_value: 24, kernels_per_tensor: 0 },
});

/** Milliseconds of one eager kernel's dispatch and launch, when a step issues kernels per tensor [derived]. */
export const KERNEL_LAUNCH_MS = 0.01;

/**
 * GB/s a host's optimizer step achieves over its states [derived, not measured]: torch's multi-threaded
 * elementwise passes on a desktop's dual-channel DDR4/DDR5 (51–90 GB/s peak), about 30 GB/s sustained.
 */
export const HOST_MEMORY_GBS = 30;

/**
 * Milliseconds of one optimizer step of a training run (0 for inference): the step's bytes per trainable value
 * (OPTIMIZER_STEP; frozen layers and LoRA's base take no step; zero1 and fsdp step a rank's share) at the card's
 * memory bandwidth, or at the host's (HOST_MEMORY_GBS) when memory.offload keeps the optimizer there, plus its
 * per-tensor launches; under autocast the 16-bit copy of each updated Linear weight (read fp32, write 16 bits, at
 * the next forward) and, in fp16, the loss scaler's unscaling pass over the gradients, both on the device.
 */
export function optimizerStepMs(o: { model: ModelDims; run: RunShape; gpu: GpuSpec }): number {
  const { model, run, gpu } = o;
  if (run.mode !== 'train') return 0;
  const traits = ENGINE_TRAITS[run.engine](run.head, run.rnn);
  const tensors = trainableTensors({ model, run, traits });
  const sharded = (run.ranks ?? 1) > 1 && (run.strategy === 'zero1' || run.strategy === 'fsdp');
  const share = sharded ? 1 / run.ranks! : 1;
  const values = share * tensors.reduce((n, t) => n + t.numel, 0);
  const linear = share * tensors.reduce((n, t) => n + (t.linear ? t.numel : 0), 0);
  const device = (gpu.bandwidth_gbs || FALLBACK.bandwidth_gbs) * 1e9;
  const host = offloads(run).optimizer;
  const where = host ? HOST_MEMORY_GBS * 1e9 : device;
  // fused AdamW is CUDA's: on the host the worker builds torch's plain AdamW
  const cost = OPTIMIZER_STEP[host && run.optimizer === 'adamw-fused' ? 'adamw' : run.optimizer];
  const launches = cost.kernels_per_tensor * Math.ceil(share * tensors.length) * KERNEL_LAUNCH_MS;
  const amp = (run.precision !== 'fp32' ? 6 * linear : 0) + (run.precision === 'fp16' ? 8 * values : 0);
  return ((values * cost.bytes_per_value) / where + amp / device) * 1e3 + launches;
}

/**
 * Milliseconds an offloaded run adds to one optimizer step of `micro_batches` micro-batches, not overlapped (an upper
 * bound): the saved activations out and back over the card's host link in every micro-batch; the gradients out in
 * every micro-batch (streamed during its backward) and added on the host to the step's after the first (at
 * HOST_MEMORY_GBS), the parameters back once a step (the host's step itself: optimizerStepMs).
 */
export function offloadMs(host: HostBytes | undefined, gpu: GpuSpec, micro_batches: number): number {
  if (!host) return 0;
  const link = hostLink(gpu).gbs * 1e9;
  const activations = (2 * host.activations * micro_batches) / link;
  const moved = host.gradients * micro_batches + host.master_weights;
  const adds = 3 * host.gradients * Math.max(0, micro_batches - 1); // read both, write the sum
  const step = host.optimizer > 0 ? moved / link + adds / (HOST_MEMORY_GBS * 1e9) : 0;
  return (activations + step) * 1e3;
}
