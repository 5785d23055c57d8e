// The memory decision of a run: `memory: auto` plans and fits to the device budget keeping the effective batch;
// `manual` takes the user's levers. The result (with the prediction and the reasons) is what plan.json records.
import { ConfigError, RefitError } from '../errors.ts';
import { formatBytes } from '../bytes.ts';
import type { RunConfig } from '../config/index.ts';
import {
  DECISION_LEVERS,
  FIT_LEVERS,
  FSDP_NO_FP16,
  configAllow,
  fitConfig,
  hostStepBytes,
  strategyTrains,
  parseSize,
  planConfig,
  resolveGpu,
  runShapeOf,
  valueAt,
  withValue,
  type GpuSpec,
  type Lever,
  type MemoryPlan,
  type ModelDims,
  type RunLevers,
  type ShapeFacts,
  type Strategy,
} from '../memory/index.ts';
import type { ReadyEvent } from '../worker/protocol.ts';
import { availableRam } from './host-ram.ts';

export { availableRam };

/**
 * Every lever the run trains with (the lever table's RunLevers, one per entry with `decision`); `batch_size` is the
 * effective batch (= micro_batch_size × grad_accumulation, last step may be shorter).
 */
export interface Decision extends RunLevers {
  device: string;
  /** several ranks: how they share the states (distributed.strategy; auto: fit's choice in memory: auto, else ddp) */
  strategy?: Strategy;
  batch_size: number;
  budget_bytes?: number;
  reasons: string[];
}

/** What plan.json holds. */
export interface PlanFile {
  mode: 'auto' | 'manual';
  device: string;
  budget_bytes: number | null;
  plan: MemoryPlan | null;
  decision: Decision;
  alternatives: unknown[];
  probe: unknown;
}

/** The device a config asks for, given what the worker found ('auto' → cuda when there is one). */
export function resolveDevice(config: RunConfig, caps: ReadyEvent['capabilities']): string {
  const d = config.device;
  if (d === 'auto') return caps.cuda ? 'cuda' : 'cpu';
  if (d.startsWith('cuda') && !caps.cuda)
    throw new ConfigError(
      'E_NO_CUDA',
      `device=${d} but the worker's torch sees no CUDA device; use device=cpu or auto`,
    );
  return d;
}

/**
 * The levers the user set explicitly, resolved against the device (the `manual` decision, and the fixed points of
 * `auto`): the config's run shape (runShapeOf) with `auto` following the worker's capabilities.
 */
function manualDecision(opts: Parameters<typeof decideMemory>[0]): Decision {
  const { config, device, caps } = opts;
  const m = config.memory;
  const batch = config.train.batch_size;
  const shape = runShapeOf(config, {
    engine: 'refit',
    device: { ...caps, cuda: device.startsWith('cuda') },
    world: opts.world ?? 1,
  });
  const { run, micro_batch_size: micro } = shape;
  if (micro > batch)
    throw new ConfigError(
      'E_MICRO_BATCH',
      `memory.micro_batch_size (${micro}) is larger than train.batch_size (${batch}), the effective batch`,
    );
  // micro-batch × accumulation × ranks = the effective batch is checked once, where the config is read
  // (config/resolve.ts, with the file and line)
  const precision = run.precision;
  if (precision === 'bf16' && device.startsWith('cuda') && !caps.bf16)
    throw new ConfigError(
      'E_PRECISION',
      'memory.precision=bf16 but this GPU does not support bf16; use fp16 or auto',
    );
  if (precision !== 'fp32' && !device.startsWith('cuda'))
    throw new ConfigError(
      'E_PRECISION',
      `memory.precision=${precision} needs a CUDA device; use fp32 or auto on CPU`,
    );
  const strategy = config.distributed.strategy;
  if (config.memory.precision !== 'auto' && !strategyTrains(strategy, config.memory.precision))
    throw new ConfigError(
      'E_PRECISION',
      `memory.precision=${config.memory.precision} with distributed.strategy=${strategy}: ${FSDP_NO_FP16}; ` +
        'use bf16, fp32 or auto',
    );
  const attention = run.attention;
  if (attention === 'sdpa' && !caps.sdpa)
    throw new ConfigError(
      'E_ATTENTION',
      `memory.attention=sdpa but torch in the worker has no scaled_dot_product_attention; use eager or auto`,
    );
  return {
    device,
    batch_size: batch,
    ...decidedLevers(shape, config),
    ...(run.strategy ? { strategy: run.strategy } : {}),
    reasons: ['manual: the levers as configured'],
  };
}

/**
 * Each lever of the decision (DECISION_LEVERS, in plan.json's order) as the config's run shape reads it: the run
 * shape's value (`auto` resolved against the device, fused AdamW's fallback), else the shape's split (micro-batch,
 * accumulation, padding), else the config's own value.
 */
function decidedLevers(shape: ReturnType<typeof runShapeOf>, config: RunConfig): RunLevers {
  const [run, split] = [shape.run, shape] as unknown as Array<Record<string, unknown>>;
  const value = (l: Lever) =>
    l.name in run ? run[l.name] : l.name in split ? split[l.name] : valueAt(config, l.key);
  return Object.fromEntries(DECISION_LEVERS.map((l) => [l.name, value(l)])) as unknown as RunLevers;
}

/** The device budget in bytes: memory.budget, else the GPU's total memory; none on CPU. */
export function deviceBudget(
  config: RunConfig,
  device: string,
  caps: ReadyEvent['capabilities'],
): number | undefined {
  if (!device.startsWith('cuda')) return undefined;
  if (config.memory.budget !== 'auto') return parseSize(config.memory.budget);
  return caps.total_memory;
}

/** Decides the levers and builds plan.json's content (prediction, decision, alternatives). */
export function decideMemory(opts: {
  config: RunConfig;
  dims: ModelDims;
  caps: ReadyEvent['capabilities'];
  device: string;
  lengths: Int32Array;
  num_labels: number;
  /** the ranks the run trains on (run/ranks.ts); the decision's micro-batch is per rank */
  world?: number;
}): PlanFile {
  const { config, dims, caps, device } = opts;
  const base = manualDecision(opts);
  const budget = deviceBudget(config, device, caps);
  base.budget_bytes = budget;
  if (config.memory.mode === 'manual')
    return checkPlanned(planFile(config.memory.mode, base, opts, [], budget), config);
  if (!device.startsWith('cuda')) {
    const d: Decision = {
      ...base,
      micro_batch_size: base.batch_size,
      grad_accumulation: 1,
      grad_checkpointing: false,
      precision: 'fp32',
      reasons: [
        'cpu: no GPU budget to fit — one micro-batch per logical batch, fp32, no checkpointing',
        `attention ${base.attention}${caps.sdpa ? ' (sdpa available in this torch)' : ' (no sdpa in this torch)'}`,
      ],
    };
    const fixed = !!(config.memory.micro_batch_size || config.memory.grad_accumulation);
    if (fixed) {
      d.micro_batch_size = base.micro_batch_size;
      d.grad_accumulation = base.grad_accumulation;
      d.reasons.push('micro-batch as configured');
    } else fitHostRam(d, opts);
    return checkPlanned(planFile('auto', d, opts, [], budget), config);
  }
  return checkPlanned(fitDecision(opts, base, budget), config);
}

/** Bytes the run may use: the GPU budget on CUDA; on CPU memory.budget when set, else the host's available RAM. */
export function memoryLimit(
  config: RunConfig,
  device: string,
  budget: number | undefined,
): { bytes: number; what: string } {
  if (device.startsWith('cuda')) return { bytes: budget ?? Infinity, what: `the ${device} budget` };
  if (config.memory.budget !== 'auto')
    return { bytes: parseSize(config.memory.budget), what: `memory.budget (${config.memory.budget})` };
  return { bytes: availableRam(), what: "this machine's available RAM" };
}

const gib = (b: number) => formatBytes(b);

/** The predicted peak of a decision (its micro-batch at the worst padded length), or null when it cannot be planned. */
function plannedPeak(d: Decision, opts: Parameters<typeof decideMemory>[0]): number | null {
  try {
    return planFor(d, opts, undefined).peak_allocated_bytes;
  } catch {
    return null;
  }
}

/**
 * CPU, memory: auto: halves the micro-batch (more accumulation, the same effective batch) until the plan fits
 * in RAM.
 */
function fitHostRam(d: Decision, opts: Parameters<typeof decideMemory>[0]): void {
  const limit = memoryLimit(opts.config, d.device, undefined);
  const first = d.micro_batch_size;
  let peak = plannedPeak(d, opts);
  while (peak !== null && peak > limit.bytes && d.micro_batch_size > 1) {
    d.micro_batch_size = Math.ceil(d.micro_batch_size / 2);
    d.grad_accumulation = Math.ceil(d.batch_size / d.micro_batch_size);
    peak = plannedPeak(d, opts);
  }
  if (d.micro_batch_size !== first)
    d.reasons.push(
      `micro-batch ${first} planned over ${limit.what} (${gib(limit.bytes)}); ${d.micro_batch_size} × ` +
        `${d.grad_accumulation} accumulation keeps the effective batch`,
    );
}

/**
 * Refuses a run whose plan cannot fit before any tensor is made: on CPU the predicted peak (with what offload keeps on
 * the host) against the host RAM (or memory.budget), on CUDA what offload keeps on the host against the host RAM;
 * anywhere the weights, gradients and optimizer state alone against the limit (no lever shrinks those).
 */
function checkPlanned(file: PlanFile, config: RunConfig): PlanFile {
  const p = file.plan;
  if (!p) return file;
  const d = file.decision;
  const limit = memoryLimit(config, d.device, file.budget_bytes ?? undefined);
  const fixed = p.breakdown.weights + p.breakdown.gradients + p.breakdown.optimizer;
  const fix = 'use a smaller model (model.preset, model.num_hidden_layers) or memory.freeze_layers';
  if (fixed > limit.bytes) {
    throw new RefitError(
      'E_MEMORY_PLAN',
      `the model's weights, gradients and optimizer state alone are planned at ${gib(fixed)} ` +
        `(${(p.params / 1e6).toFixed(1)}M parameters) but ${limit.what} is ${gib(limit.bytes)}; ${fix}`,
    );
  }
  // offload: the host holds what the device does not (pinned on CUDA, where it is checked against the host's RAM too)
  const host = hostStepBytes(p.host, d.grad_accumulation);
  if (host > 0 && d.device.startsWith('cuda') && host > availableRam())
    throw new RefitError(
      'E_MEMORY_PLAN',
      `memory.offload=${d.offload} keeps ${gib(host)} in host memory but this machine's available RAM is ` +
        `${gib(availableRam())}; use memory.offload=activations or none, or a smaller model`,
    );
  if (!d.device.startsWith('cuda') && p.peak_allocated_bytes + host > limit.bytes) {
    throw new RefitError(
      'E_MEMORY_PLAN',
      `the run is planned at ${gib(p.peak_allocated_bytes + host)} peak (micro-batch ${d.micro_batch_size} × ` +
        `${p.config.seq_len} tokens) but ${limit.what} is ${gib(limit.bytes)}; ` +
        `lower train.batch_size or memory.micro_batch_size, or memory.max_seq_len`,
    );
  }
  return file;
}

function fitDecision(
  opts: Parameters<typeof decideMemory>[0],
  base: Decision,
  budget: number | undefined,
): PlanFile {
  const { config, dims, caps } = opts;
  const gpu = cardOf(caps, budget ?? caps.total_memory ?? 0);
  // What fit may vary: each lever it searches (the lever table) as configured, or every value its entry offers on
  // this device when the config says auto (fsdp's precisions are kept by fit itself).
  const allow = configAllow(config);
  const facts = decisionFacts(opts);
  const fit = fitConfig({
    config,
    facts,
    model: dims,
    gpu,
    allow,
    // several ranks: a strategy set in the config is kept, auto is searched (ddp, zero1) as `refit fit` does
    strategies: config.distributed.strategy === 'auto' ? undefined : [config.distributed.strategy],
  });
  const c = fit.config as unknown as Record<string, unknown>;
  const d: Decision = {
    ...base,
    micro_batch_size: fit.config.micro_batch_size,
    grad_accumulation: fit.config.grad_accumulation,
    // the searched levers (the lever table)
    ...Object.fromEntries(FIT_LEVERS.map((l) => [l.name, c[l.name]])),
    ...(fit.config.strategy ? { strategy: fit.config.strategy } : {}),
    reasons: [
      `auto: fitted to ${budget ?? 0} B on ${gpu.name}, effective batch ${base.batch_size} kept`,
      fit.fits
        ? `predicted peak ${fit.peak_device_bytes} B fits`
        : `nothing predicted to fit; using the smallest configuration (OOM recovery will shrink further)`,
    ],
  };
  return planFile('auto', d, opts, fit.alternatives ?? [], budget);
}

/**
 * The card a decision plans for: refit's table entry for the driver's name of it (its speeds rank fit's candidates as
 * `refit fit --gpu` does; its workspaces), with the budget and the worker's bf16 and SDPA.
 */
function cardOf(caps: ReadyEvent['capabilities'], budget: number): GpuSpec {
  return {
    ...knownCard(caps.device_name),
    name: caps.device_name ?? 'cuda',
    memory_bytes: budget,
    bf16: caps.bf16,
    sdpa: caps.sdpa,
  };
}

/** The card refit's table knows by the driver's name for it (speeds, Hopper workspaces), else nothing. */
function knownCard(name: string | undefined): Partial<GpuSpec> {
  if (!name) return {};
  try {
    return resolveGpu(name);
  } catch {
    return {}; // an unknown card: speeds unknown, its memory from the driver
  }
}

/**
 * The facts train plans its config with (fit's search, the decision's plan): refit's engine, the worker's
 * capabilities on the run's device, the data's relations and lengths, the ranks laid out.
 */
function decisionFacts(opts: Parameters<typeof decideMemory>[0]): ShapeFacts {
  return {
    engine: 'refit',
    device: { ...opts.caps, cuda: opts.device.startsWith('cuda') },
    num_labels: opts.num_labels,
    lengths: opts.lengths,
    world: opts.world ?? 1,
  };
}

/**
 * The memory plan of a decision: the config with the decided levers, as runShapeOf reads it (what `refit plan -c`
 * prints for that config), its micro-batch at the worst padded length of the training data and its relations.
 */
function planFor(
  d: Decision,
  opts: Parameters<typeof decideMemory>[0],
  budget: number | undefined,
): MemoryPlan {
  // every decided lever (DECISION_LEVERS) over the config's: the micro-batch set wins over the accumulation
  const decided = Object.fromEntries(
    DECISION_LEVERS.map((l) => [l.name, (d as unknown as Record<string, unknown>)[l.name]]),
  );
  const memory = { ...opts.config.memory, ...decided } as RunConfig['memory'];
  const distributed = { ...opts.config.distributed, ...(d.strategy ? { strategy: d.strategy } : {}) };
  let config: RunConfig = { ...opts.config, memory, distributed };
  // a decided lever outside memory.* (model.lora.rank) at its own key
  for (const l of DECISION_LEVERS.filter((x) => !x.key.startsWith('memory.')))
    config = withValue(config, l.key, decided[l.name]);
  return planConfig({
    config,
    facts: decisionFacts(opts),
    model: opts.dims,
    gpu: budget ? cardOf(opts.caps, budget) : undefined,
  }).plan;
}

function planFile(
  mode: 'auto' | 'manual',
  d: Decision,
  opts: Parameters<typeof decideMemory>[0],
  alternatives: unknown[],
  budget: number | undefined,
): PlanFile {
  let plan: MemoryPlan | null = null;
  try {
    plan = planFor(d, opts, budget);
  } catch (e) {
    d.reasons.push(`no prediction: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    mode,
    device: d.device,
    budget_bytes: budget ?? null,
    plan,
    decision: d,
    alternatives,
    probe: null,
  };
}
