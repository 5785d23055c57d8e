// fitConfig: the fastest configuration whose predicted device peak stays under the card's memory with a margin,
// keeping micro-batch × accumulation = the effective batch. Pure: planMemory for memory, cost.ts for speed.
import { RefitError } from '../errors.ts';
import { microBatchMs } from './cost.ts';
import { checkSeqLen, validateDims } from './models.ts';
import { strategyTrains } from './distributed-levers.ts';
import { FIT_LEVERS } from './levers.ts';
import { planMemory } from './plan.ts';
import type {
  Attention,
  Engine,
  FitCandidate,
  FitResult,
  GpuSpec,
  ModelDims,
  Precision,
  RunShape,
} from './types.ts';

/** Default safety margin: the fraction of the card kept free (Lightning's BatchSizeFinder uses 5 %). */
export const DEFAULT_MARGIN = 0.05;
/** Dynamic padding pads each micro-batch to a multiple of this (shape reuse; cf. golden throughput2 rows). */
export const PAD_MULTIPLE = 64;

/** What the search may vary (each list defaults to every supported choice). */
export interface FitAllow {
  precision: Precision[];
  attention: Attention[];
  grad_checkpointing: boolean[];
  micro_batch_size: number[];
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Expected padded tokens per example when length-sorted examples are cut into micro-batches of `micro`. */
export function expectedPaddedLength(lengths: ArrayLike<number>, micro: number, seq_len: number): number {
  return paddedLengthSorted(Float64Array.from(lengths, (x) => Math.min(x, seq_len)).sort(), micro, seq_len);
}

function paddedLengthSorted(sorted: Float64Array, micro: number, seq_len: number): number {
  let tokens = 0;
  for (let i = 0; i < sorted.length; i += micro) {
    const end = Math.min(i + micro, sorted.length); // a micro-batch is padded to its longest (last) example
    tokens += (end - i) * Math.min(seq_len, roundUp(sorted[end - 1], PAD_MULTIPLE));
  }
  return tokens / sorted.length;
}

/** Every combination of the values fit searches (FIT_LEVERS, outer loop first), as lever name → value. */
function combinations(gpu: GpuSpec, allow: Partial<FitAllow>): Array<Record<string, unknown>> {
  let out: Array<Record<string, unknown>> = [{}];
  for (const l of FIT_LEVERS) {
    const allowed = (allow as Record<string, readonly unknown[] | undefined>)[l.name];
    const values = l.fit!.choices(gpu, allowed);
    if (values.length === 0)
      throw new RefitError(
        'E_FIT',
        l.fit!.none?.(gpu, allowed) ?? `none of the allowed ${l.key} values runs on ${gpu.name}`,
      );
    out = out.flatMap((c) => values.map((v) => ({ ...c, [l.name]: v })));
  }
  return out;
}

interface Search {
  model: ModelDims;
  gpu: GpuSpec;
  engine: Engine;
  effective: number;
  seq: number;
  memSeq: number;
  sorted?: Float64Array;
  num_labels: number;
  budget: number;
  shape: FitShape;
  /** GPUs (ranks): each runs effective / ranks examples per step, in parallel */
  ranks: number;
}

/** What the search keeps as it is: the head (and the deepke-lm head's RNN), frozen layers, DataParallel. */
export type FitShape = Pick<RunShape, 'head' | 'rnn' | 'freeze_layers' | 'data_parallel'>;

function candidate(q: Search, micro: number, levers: Record<string, unknown>): FitCandidate {
  const run = {
    ...q.shape,
    engine: q.engine,
    mode: 'train',
    batch_size: micro,
    seq_len: q.memSeq,
    optimizer: 'adamw',
    num_labels: q.num_labels,
    ...levers,
  } as RunShape;
  const plan = planMemory({ model: q.model, run, gpu: q.gpu });
  const perExample = q.sorted ? paddedLengthSorted(q.sorted, micro, q.memSeq) : q.seq;
  // Several ranks: each runs its share of the effective batch at the same time (communication not priced).
  const accum = q.effective / q.ranks / micro;
  const stepMs =
    accum * microBatchMs(q.model, { ...run, seq_len: Math.round(perExample) }, q.gpu, micro * perExample);
  const { strategy, ...rest } = levers;
  return {
    // the searched levers by name, between the split and the length (the --json order)
    config: {
      micro_batch_size: micro,
      grad_accumulation: accum,
      ...rest,
      seq_len: q.seq,
      padding: q.sorted ? 'dynamic' : 'max',
      ...(q.ranks > 1 ? { ranks: q.ranks, strategy } : {}),
    } as FitCandidate['config'],
    peak_device_bytes: plan.peak_device_bytes,
    fits: plan.peak_device_bytes <= q.budget,
    predicted_examples_per_s: Math.round((q.effective / stepMs) * 1e3 * 10) / 10,
    predicted_step_ms: Math.round(stepMs * 10) / 10,
  };
}

/**
 * Searches micro-batch, accumulation, precision, attention and checkpointing for the highest predicted
 * throughput that fits.
 */
export function fitConfig(opts: {
  model: ModelDims;
  gpu: GpuSpec;
  effective_batch: number;
  seq_len: number;
  engine?: Engine;
  lengths?: Int32Array | number[];
  num_labels?: number;
  margin?: number;
  allow?: Partial<FitAllow>;
  shape?: FitShape;
  /** several GPUs of this kind (`refit fit --gpus N`): strategy and per-rank micro-batch are searched together */
  ranks?: number;
  /** default ddp, zero1; fsdp only when asked (FSDP2 needs torch 2.x, and its OOMs replay from a checkpoint) */
  strategies?: ReadonlyArray<'ddp' | 'zero1' | 'fsdp'>;
}): FitResult {
  const { model, gpu, effective_batch: effective } = opts;
  validateDims(model, 'model');
  checkSeqLen(model, opts.seq_len);
  if (!Number.isInteger(effective) || effective <= 0)
    throw new RefitError('E_RUN_SHAPE', `effective batch must be a positive integer, got ${effective}`);
  const margin = opts.margin ?? DEFAULT_MARGIN;
  // Sorted once (lengths beyond the window are truncated to it); the longest batch decides memory: with real
  // lengths that is the longest example, padded like the batches.
  const sorted =
    opts.lengths && opts.lengths.length > 0
      ? Float64Array.from(opts.lengths, (x) => Math.min(x, opts.seq_len)).sort()
      : undefined;
  const memSeq = sorted
    ? Math.min(opts.seq_len, roundUp(sorted[sorted.length - 1], PAD_MULTIPLE))
    : opts.seq_len;
  const ranks = Math.max(1, Math.floor(opts.ranks ?? 1));
  if (effective % ranks)
    throw new RefitError(
      'E_FIT',
      `the effective batch ${effective} does not split evenly over ${ranks} GPUs; use a multiple of ${ranks}`,
    );
  const q: Search = {
    model,
    gpu,
    engine: opts.engine ?? 'refit',
    effective,
    seq: opts.seq_len,
    memSeq,
    sorted,
    num_labels: opts.num_labels ?? 50,
    budget: Math.floor(gpu.memory_bytes * (1 - margin)),
    shape: ranks > 1 ? { ...opts.shape, data_parallel: undefined } : (opts.shape ?? {}),
    ranks,
  };
  // Several GPUs: the strategy is one more lever, outermost (ddp first: on a tie it needs no optimizer-state gathers).
  const strategies = ranks > 1 ? (opts.strategies ?? ['ddp', 'zero1']) : [undefined];
  const combos = strategies.flatMap((strategy) =>
    combinations(gpu, opts.allow ?? {})
      .filter((c) => strategyTrains(strategy, String(c.precision)))
      .map((c) => (strategy ? { ...c, strategy, ranks } : c)),
  );
  const share = effective / ranks;
  const micros = (opts.allow?.micro_batch_size ?? [...Array(share).keys()].map((i) => i + 1))
    .filter((m) => share % m === 0)
    .sort((a, b) => b - a);
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
  // Fastest first; on a tie (within 2 %) less accumulation, then no checkpointing.
  best.sort((x, y) => {
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
