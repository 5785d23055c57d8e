// Throughput cost model for ranking configurations: FLOPs per token, a per-layer launch floor, the recompute
// of checkpointing and the s² memory traffic of eager attention. Calibrated on the H200 step times.
import { COST } from './profiles/coefficients.ts';
import { actClass } from './profiles/index.ts';
import type { GpuSpec, ModelDims, RunShape } from './types.ts';

// A card given only by its size: assume a mid-range consumer card (RTX 3060-class speeds).
const FALLBACK = { fp32_tflops: 12.7, tensor16_tflops: 25, bandwidth_gbs: 360 };

/** Training FLOPs per token: 6 × non-embedding params + attention 12·L·s·h (forward + backward). */
export function trainFlopsPerToken(model: ModelDims, seq_len: number): number {
  const { hidden_size: h, intermediate_size: I, num_hidden_layers: L } = model;
  const perLayer = 4 * h * h + 2 * h * I;
  return 6 * L * perLayer + 12 * L * seq_len * h;
}

/** Predicted milliseconds of one micro-batch (forward + backward + its share of the step) of `run` on `gpu`. */
export function microBatchMs(model: ModelDims, run: RunShape, gpu: GpuSpec, tokens = run.batch_size * run.seq_len): number {
  const cls = actClass(run);
  const L = model.num_hidden_layers;
  const amp = run.precision !== 'fp32';
  const spec = { ...FALLBACK, ...gpu };
  // Pre-Ampere cards without 16-bit tensor cores gain nothing from autocast (Pascal fp16 is slower still).
  const tflops = amp && spec.tensor16_tflops > 0 ? spec.tensor16_tflops : spec.fp32_tflops;
  const eff = amp && spec.tensor16_tflops > 0 ? COST.efficiency.amp : COST.efficiency.fp32;
  const recompute = run.grad_checkpointing ? 4 / 3 : 1; // one more forward = +1/3 of forward+backward
  const seqFor = tokens / run.batch_size;
  let gpuMs = (tokens * trainFlopsPerToken(model, seqFor) * recompute) / (tflops * 1e12 * eff) * 1e3;
  if (run.attention === 'eager') {
    const scores = L * run.batch_size * model.num_attention_heads * seqFor * seqFor;
    gpuMs += (scores * COST.eager_bytes_per_score * (amp ? 0.75 : 1) * recompute) / (spec.bandwidth_gbs * 1e9) * 1e3;
  }
  const launchMs = L * COST.launch_ms_per_layer[cls] * (run.grad_checkpointing ? COST.checkpoint_launch_factor : 1);
  // The CPU launches kernels asynchronously: the step takes the longer of the two.
  return Math.max(launchMs, gpuMs);
}
