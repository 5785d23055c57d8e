// fitConfig: the fastest configuration whose predicted device peak stays under the card's memory with a margin,
// keeping micro-batch × accumulation × ranks = the effective batch. It searches over run shapes: each candidate is
// the config with the searched levers set, read by runShapeOf and priced by planMemory, exactly as `refit plan -c`
// and train's decision read and price a config. Pure: cost.ts for speed.
import { roundSeqLen } from '../batch/index.ts';
import { RefitError } from '../errors.ts';
import { microBatchMs, offloadMs, optimizerStepMs } from './cost.ts';
import { checkSeqLen, validateDims } from './models.ts';
import { strategyHolds, strategyTrains, type Strategy } from './distributed-levers.ts';
import { FIT_LEVERS, type Lever, type Permit } from './levers.ts';
import { planMemory } from './plan.ts';
import { runShapeOf, worldOf, type ShapeConfig, type ShapeFacts } from './run-shape.ts';
import type { FitCandidate, FitResult, GpuSpec, ModelDims } from './types.ts';

/** Default safety margin: the fraction of the card kept free (Lightning's BatchSizeFinder uses 5 %). */
export const DEFAULT_MARGIN = 0.05;

/**
 * What the search may vary: for each lever fit searches (FIT_LEVERS, by name) the values allowed, and the
 * micro-batch sizes; a lever left out may take every value its table entry offers on the device.
 */
export type FitAllow = Readonly<Record<string, readonly unknown[] | undefined>>;

/**
 * What a config leaves to fit: every lever fit searches whose config value is `auto`; the others are kept as
 * configured (`refit fit -c` and train's `memory: auto` decision read a config alike).
 */
export function configAllow(config: ShapeConfig): FitAllow {
  const permits = config.memory.allow ?? [];
  return Object.fromEntries(
    FIT_LEVERS.filter((l) => {
      const v = valueAt(config, l.key);
      // a lever that changes the numerics is searched once the user allows it (its config value is tried first)
      return v !== undefined && v !== 'auto' && !(l.fit!.permit && permits.includes(l.fit!.permit));
    }).map((l) => [l.name, [valueAt(config, l.key)]]),
  );
}

/** The value of a dotted config key (`memory.precision`, `model.lora.rank`) in a config, or undefined. */
export function valueAt(config: object, key: string): unknown {
  return key.split('.').reduce<any>((node, part) => (node == null ? undefined : node[part]), config);
}

/** A copy of `config` with the dotted key set (the objects on its path copied, the rest shared). */
export function withValue<T extends object>(config: T, key: string, value: unknown): T {
  const [head, ...rest] = key.split('.');
  const node = (config as Record<string, unknown>)[head];
  return {
    ...config,
    [head]: rest.length ? withValue((node ?? {}) as object, rest.join('.'), value) : value,
  } as T;
}

/** Expected padded tokens per example when length-sorted examples are cut into micro-batches of `micro`. */
export function expectedPaddedLength(lengths: ArrayLike<number>, micro: number, seq_len: number): number {
  return paddedLengthSorted(Float64Array.from(lengths, (x) => Math.min(x, seq_len)).sort(), micro, seq_len);
}

function paddedLengthSorted(sorted: Float64Array, micro: number, seq_len: number): number {
  let tokens = 0;
  for (let i = 0; i < sorted.length; i += micro) {
    const end = Math.min(i + micro, sorted.length); // a micro-batch is padded to its longest (last) example
    tokens += (end - i) * roundSeqLen(sorted[end - 1], seq_len); // the batcher's padding rule
  }
  return tokens / sorted.length;
}

/** Every combination of the values fit searches (FIT_LEVERS, outer loop first), as lever name → value. */
function combinations(q: Search, allow: FitAllow): Array<Record<string, unknown>> {
  const gpu = q.o.gpu;
  let out: Array<Record<string, unknown>> = [{}];
  for (const l of FIT_LEVERS) {
    const current = valueAt(q.o.config, l.key);
    // a lever that changes the numerics keeps the config's value unless the user allows it
    const gated = l.fit!.permit !== undefined && !q.permits.includes(l.fit!.permit);
    const kept = (l.fit!.needs_lengths && !q.sorted) || gated ? [current] : undefined;
    const allowed = kept ?? allow[l.name];
    const values = l.fit!.choices(gpu, allowed, {
      current,
      num_hidden_layers: q.o.model.num_hidden_layers,
      engine: q.o.facts.engine,
      world: q.world,
    });
    if (values.length === 0)
      throw new RefitError(
        'E_FIT',
        l.fit!.none?.(gpu, allowed) ?? `none of the allowed ${l.key} values runs on ${gpu.name}`,
      );
    out = out.flatMap((c) => values.map((v) => ({ ...c, [l.name]: v })));
  }
  return out;
}

/** The fit options: the run as configured, its facts, the model and the card. */
export interface FitOptions {
  /** the run as configured: what fit keeps (the head, the RNN, frozen layers, the optimizer, the window, padding) */
  config: ShapeConfig;
  /** the engine, DeepKE's padding and DataParallel, the data's lengths and relations, the ranks, the device */
  facts: ShapeFacts;
  model: ModelDims;
  gpu: GpuSpec;
  margin?: number;
  allow?: FitAllow;
  /** the levers that change the numerics fit may use (default: the config's memory.allow) */
  permits?: readonly Permit[];
  /** several ranks: the strategies to consider (default ddp, zero1; fsdp only when asked: FSDP2 needs torch 2.x) */
  strategies?: readonly Strategy[];
}

interface Search {
  o: FitOptions;
  permits: readonly Permit[];
  budget: number;
  world: number;
  sorted?: Float64Array;
}

/**
 * The config with the searched levers set at their keys (the micro-batch wins over any accumulation it had); `config`
 * is the one fit was given, shared, not changed.
 */
export function candidateConfig(
  config: ShapeConfig,
  micro: number,
  levers: Record<string, unknown>,
): ShapeConfig {
  const { strategy, ...searched } = levers;
  let out: ShapeConfig = {
    ...config,
    memory: { ...config.memory, micro_batch_size: micro, grad_accumulation: undefined },
    ...(strategy ? { distributed: { ...config.distributed, strategy: strategy as Strategy } } : {}),
  };
  for (const l of FIT_LEVERS) if (l.name in searched) out = withValue(out, l.key, searched[l.name]);
  return out;
}

/** True when a candidate uses a value that costs speed whatever else changes (a lever's `last_resort`: offload). */
function lastResort(c: FitCandidate): boolean {
  const k = c.config as unknown as Record<string, unknown>;
  return FIT_LEVERS.some((l: Lever) => l.fit!.last_resort?.(k[l.name]));
}

/** True when a candidate uses a value that changes the numerics (a permitted lever away from the config's value). */
function changesNumerics(config: ShapeConfig, c: FitCandidate): boolean {
  const k = c.config as unknown as Record<string, unknown>;
  return FIT_LEVERS.some((l: Lever) => l.fit!.permit && k[l.name] !== valueAt(config, l.key));
}

function candidate(q: Search, micro: number, levers: Record<string, unknown>): FitCandidate {
  const { model, gpu, facts } = q.o;
  const shape = runShapeOf(candidateConfig(q.o.config, micro, levers), facts);
  const run = shape.run;
  const plan = planMemory({ model, run, gpu });
  const window = q.o.config.memory.max_seq_len;
  const perExample =
    q.sorted && shape.padding === 'dynamic' && facts.padded_length === undefined
      ? paddedLengthSorted(q.sorted, micro, window)
      : run.seq_len;
  // Several ranks: each runs its share of the effective batch at the same time (communication not priced).
  const stepMs =
    shape.grad_accumulation *
      microBatchMs(model, { ...run, seq_len: Math.round(perExample) }, gpu, micro * perExample) +
    optimizerStepMs({ model, run, gpu }) +
    offloadMs(plan.host, gpu, shape.grad_accumulation);
  const { strategy, ...rest } = levers;
  return {
    // the searched levers by name, between the split and the length (the --json order)
    config: {
      micro_batch_size: micro,
      grad_accumulation: shape.grad_accumulation,
      ...rest,
      // the length planned: the window, or the fixed length the engine pads every batch to (then max padding)
      seq_len: facts.padded_length ?? window,
      padding: shape.padding,
      ...(q.world > 1 ? { ranks: q.world, strategy } : {}),
    } as FitCandidate['config'],
    run,
    peak_device_bytes: plan.peak_device_bytes,
    fits: plan.peak_device_bytes <= q.budget,
    predicted_examples_per_s: Math.round((shape.effective_batch / stepMs) * 1e3 * 10) / 10,
    predicted_step_ms: Math.round(stepMs * 10) / 10,
  };
}

/**
 * Searches micro-batch, accumulation and the fit levers of the table (precision, attention, checkpointing; the
 * strategy with several ranks) for the highest predicted throughput that fits, over the run shapes of `config`.
 */
export function fitConfig(o: FitOptions): FitResult {
  const { model, gpu, config, facts } = o;
  const effective = config.train.batch_size;
  validateDims(model, 'model');
  checkSeqLen(model, config.memory.max_seq_len);
  if (!Number.isInteger(effective) || effective <= 0)
    throw new RefitError('E_RUN_SHAPE', `effective batch must be a positive integer, got ${effective}`);
  const world = worldOf(config, facts);
  if (effective % world)
    throw new RefitError(
      'E_FIT',
      `the effective batch ${effective} does not split evenly over ${world} GPUs; use a multiple of ${world}`,
    );
  const window = config.memory.max_seq_len;
  const q: Search = {
    o,
    permits: o.permits ?? config.memory.allow ?? [],
    world,
    budget: Math.floor(gpu.memory_bytes * (1 - (o.margin ?? DEFAULT_MARGIN))),
    // sorted once (lengths beyond the window are truncated to it): the expected padded length per example
    sorted:
      facts.lengths && facts.lengths.length > 0
        ? Float64Array.from(facts.lengths, (x) => Math.min(x, window)).sort()
        : undefined,
  };
  const allow = o.allow ?? {};
  // Several GPUs: the strategy is one more lever, outermost (ddp first: on a tie it needs no optimizer-state gathers).
  const strategies = world > 1 ? (o.strategies ?? ['ddp', 'zero1']) : [undefined];
  const combos = strategies.flatMap((strategy) =>
    combinations(q, allow)
      .filter((c) => strategyTrains(strategy ?? config.distributed?.strategy, String(c.precision)))
      .filter((c) => strategyHolds(strategy ?? config.distributed?.strategy, String(c.optimizer)))
      .map((c) => (strategy ? { ...c, strategy } : c)),
  );
  const share = effective / world;
  const micros = (
    (allow.micro_batch_size as number[] | undefined) ?? [...Array(share).keys()].map((i) => i + 1)
  )
    .filter((m) => share % m === 0)
    .sort((a, b) => b - a);
  if (micros.length === 0)
    throw new RefitError(
      'E_FIT',
      `no allowed micro-batch size divides the ${share} examples of a rank's step`,
    );
  const best: FitCandidate[] = [];
  let smallest: FitCandidate | undefined;
  for (const levers of combos) {
    // The largest micro-batch that fits: no needless accumulation for this precision/attention/checkpointing.
    for (const m of micros) {
      const cand = candidate(q, m, levers);
      if (cand.fits) {
        best.push(cand);
        break;
      }
      // ties: the smaller micro-batch
      if (!smallest || cand.peak_device_bytes <= smallest.peak_device_bytes) smallest = cand;
    }
  }
  // The config's own numerics first (a lever that changes them only when nothing exact fits), then without offload
  // (only when nothing else fits); then fastest first, on a tie (within 2 %) less accumulation, then no checkpointing.
  best.sort((x, y) => {
    const exact = Number(changesNumerics(config, x)) - Number(changesNumerics(config, y));
    if (exact) return exact;
    const resort = Number(lastResort(x)) - Number(lastResort(y));
    if (resort) return resort;
    const d = y.predicted_examples_per_s - x.predicted_examples_per_s;
    if (Math.abs(d) > 0.02 * Math.max(x.predicted_examples_per_s, y.predicted_examples_per_s)) return d;
    return (
      x.config.grad_accumulation - y.config.grad_accumulation ||
      Number(x.config.grad_checkpointing) - Number(y.config.grad_checkpointing) ||
      d
    );
  });
  const chosen = best[0] ?? smallest!;
  return {
    ...chosen,
    budget_bytes: q.budget,
    gpu: gpu.name,
    effective_batch: effective,
    alternatives: best.slice(1, 6),
  };
}
