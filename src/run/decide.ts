// The memory decision of a run: `memory: auto` plans and fits to the device budget keeping the effective batch;
// `manual` takes the user's levers. The result (with the prediction and the reasons) is what plan.json records.
import { ConfigError } from '../errors.ts';
import type { RunConfig } from '../config/index.ts';
import { fitConfig, parseSize, planMemory, type FitAllow, type GpuSpec, type MemoryPlan, type ModelDims } from '../memory/index.ts';
import type { Attention, Precision, ReadyEvent } from '../worker/protocol.ts';
import { roundSeqLen } from '../batch/index.ts';

/** Every lever the run trains with; `batch_size` is the effective batch (= micro_batch_size × grad_accumulation, last step may be shorter). */
export interface Decision {
  device: string;
  batch_size: number;
  micro_batch_size: number;
  grad_accumulation: number;
  precision: Precision;
  attention: Attention;
  grad_checkpointing: boolean;
  padding: 'dynamic' | 'max';
  batching: 'buckets' | 'token_budget';
  max_tokens?: number;
  max_seq_len: number;
  freeze_layers: number;
  optimizer: 'adamw' | 'adamw-fused';
  budget_bytes?: number;
  reasons: string[];
}

/** What plan.json holds. */
export interface PlanFile { mode: 'auto' | 'manual'; device: string; budget_bytes: number | null; plan: MemoryPlan | null;
  decision: Decision; alternatives: unknown[]; probe: unknown }

/** The device a config asks for, given what the worker found ('auto' → cuda when there is one). */
export function resolveDevice(config: RunConfig, caps: ReadyEvent['capabilities']): string {
  const d = config.device;
  if (d === 'auto') return caps.cuda ? 'cuda' : 'cpu';
  if (d.startsWith('cuda') && !caps.cuda) throw new ConfigError(`device=${d} but the worker's torch sees no CUDA device; use device=cpu or auto`, 'E_NO_CUDA');
  return d;
}

function autoPrecision(device: string, caps: ReadyEvent['capabilities']): Precision {
  if (!device.startsWith('cuda')) return 'fp32';
  return caps.bf16 ? 'bf16' : 'fp16';
}

/** The levers the user set explicitly, resolved against the device (the `manual` decision, and the fixed points of `auto`). */
function manualDecision(config: RunConfig, device: string, caps: ReadyEvent['capabilities']): Decision {
  const m = config.memory;
  const batch = config.train.batch_size;
  const micro = m.micro_batch_size ?? (m.grad_accumulation ? Math.ceil(batch / m.grad_accumulation) : batch);
  if (micro > batch) throw new ConfigError(`memory.micro_batch_size (${micro}) is larger than train.batch_size (${batch}), the effective batch`, 'E_MICRO_BATCH');
  if (m.micro_batch_size && m.grad_accumulation && m.micro_batch_size * m.grad_accumulation !== batch) {
    throw new ConfigError(`memory.micro_batch_size × memory.grad_accumulation = ${m.micro_batch_size * m.grad_accumulation} but train.batch_size (the effective batch) is ${batch}; set only one of them`, 'E_MICRO_BATCH');
  }
  const precision = m.precision === 'auto' ? autoPrecision(device, caps) : m.precision;
  if (precision === 'bf16' && device.startsWith('cuda') && !caps.bf16) throw new ConfigError('memory.precision=bf16 but this GPU does not support bf16; use fp16 or auto', 'E_PRECISION');
  if (precision !== 'fp32' && !device.startsWith('cuda')) throw new ConfigError(`memory.precision=${precision} needs a CUDA device; use fp32 or auto on CPU`, 'E_PRECISION');
  const attention: Attention = m.attention === 'auto' ? (caps.sdpa ? 'sdpa' : 'eager') : m.attention;
  if (attention === 'sdpa' && !caps.sdpa) throw new ConfigError(`memory.attention=sdpa but torch in the worker has no scaled_dot_product_attention; use eager or auto`, 'E_ATTENTION');
  return {
    device, batch_size: batch, micro_batch_size: micro, grad_accumulation: Math.ceil(batch / micro), precision, attention,
    grad_checkpointing: m.grad_checkpointing === true, padding: m.padding, batching: m.batching, max_tokens: m.max_tokens,
    max_seq_len: m.max_seq_len, freeze_layers: m.freeze_layers, optimizer: m.optimizer === 'adamw-fused' && !caps.fused_adamw ? 'adamw' : m.optimizer,
    reasons: ['manual: the levers as configured'],
  };
}

/** The device budget in bytes: memory.budget, else the GPU's total memory; none on CPU. */
export function deviceBudget(config: RunConfig, device: string, caps: ReadyEvent['capabilities']): number | undefined {
  if (!device.startsWith('cuda')) return undefined;
  if (config.memory.budget !== 'auto') return parseSize(config.memory.budget);
  return caps.total_memory;
}

/** Decides the levers and builds plan.json's content (prediction, decision, alternatives). */
export function decideMemory(opts: { config: RunConfig; dims: ModelDims; caps: ReadyEvent['capabilities']; device: string; lengths: Int32Array; num_labels: number }): PlanFile {
  const { config, dims, caps, device } = opts;
  const base = manualDecision(config, device, caps);
  const budget = deviceBudget(config, device, caps);
  base.budget_bytes = budget;
  if (config.memory.mode === 'manual') return planFile(config.memory.mode, base, opts, [], budget);
  if (!device.startsWith('cuda')) {
    const d: Decision = { ...base, micro_batch_size: base.batch_size, grad_accumulation: 1, grad_checkpointing: false,
      precision: 'fp32', reasons: ['cpu: no GPU budget to fit — one micro-batch per logical batch, fp32, no checkpointing',
        `attention ${base.attention}${caps.sdpa ? ' (sdpa available in this torch)' : ' (no sdpa in this torch)'}`] };
    if (config.memory.micro_batch_size || config.memory.grad_accumulation) { d.micro_batch_size = base.micro_batch_size; d.grad_accumulation = base.grad_accumulation; d.reasons.push('micro-batch as configured'); }
    return planFile('auto', d, opts, [], budget);
  }
  return fitDecision(opts, base, budget);
}

function fitDecision(opts: Parameters<typeof decideMemory>[0], base: Decision, budget: number | undefined): PlanFile {
  const { config, dims, caps } = opts;
  const m = config.memory;
  const gpu: GpuSpec = { name: caps.device_name ?? 'cuda', memory_bytes: budget ?? caps.total_memory ?? 0, bf16: caps.bf16 };
  const allow: Partial<FitAllow> = {};
  if (m.precision !== 'auto') allow.precision = [m.precision];
  else if (!caps.bf16) allow.precision = ['fp32', 'fp16'];
  if (m.attention !== 'auto') allow.attention = [m.attention];
  else if (!caps.sdpa) allow.attention = ['eager'];
  if (m.grad_checkpointing !== 'auto') allow.grad_checkpointing = [m.grad_checkpointing];
  const fit = fitConfig({ model: dims, gpu, effective_batch: base.batch_size, seq_len: m.max_seq_len, engine: 'refit', lengths: m.padding === 'dynamic' ? opts.lengths : undefined, num_labels: opts.num_labels, allow });
  const c = fit.config;
  const d: Decision = { ...base, micro_batch_size: c.micro_batch_size, grad_accumulation: c.grad_accumulation, precision: c.precision as Precision,
    attention: c.attention as Attention, grad_checkpointing: c.grad_checkpointing,
    reasons: [`auto: fitted to ${budget ?? 0} B on ${gpu.name}, effective batch ${base.batch_size} kept`,
      fit.fits ? `predicted peak ${fit.peak_device_bytes} B fits` : `nothing predicted to fit; using the smallest configuration (OOM recovery will shrink further)`] };
  return planFile('auto', d, opts, fit.alternatives ?? [], budget);
}

function planFile(mode: 'auto' | 'manual', d: Decision, opts: Parameters<typeof decideMemory>[0], alternatives: unknown[], budget: number | undefined): PlanFile {
  let plan: MemoryPlan | null = null;
  try {
    plan = planMemory({ model: opts.dims, run: { engine: 'refit', mode: 'train', batch_size: d.micro_batch_size, seq_len: worstSeqLen(d, opts.lengths),
      precision: d.precision, attention: d.attention, grad_checkpointing: d.grad_checkpointing, optimizer: d.optimizer, num_labels: opts.num_labels,
      freeze_layers: d.freeze_layers, head: opts.config.model.head },
      gpu: budget ? { name: opts.caps.device_name ?? d.device, memory_bytes: budget, bf16: opts.caps.bf16 } : undefined });
  } catch (e) {
    d.reasons.push(`no prediction: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { mode, device: d.device, budget_bytes: budget ?? null, plan, decision: d, alternatives, probe: null };
}

/** The longest padded length the run will see (max padding: the window; dynamic: the longest example rounded). */
export function worstSeqLen(d: Pick<Decision, 'padding' | 'max_seq_len'>, lengths: ArrayLike<number>): number {
  if (d.padding === 'max') return d.max_seq_len;
  let longest = 0;
  for (let i = 0; i < lengths.length; i++) longest = Math.max(longest, lengths[i]);
  return roundSeqLen(longest, d.max_seq_len);
}
