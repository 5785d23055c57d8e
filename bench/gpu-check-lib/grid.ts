// Part (a): the refit engine's planned peak against the worker's measured peak over a grid of model size ×
// precision × attention × checkpointing × batch × length. One worker per model size serves its points; each point
// loads its model afresh. The worker has no empty_cache command, so injected OOMs (REFIT_INJECT_OOM=1,5: the worker
// frees the micro-batch and empties the CUDA cache) do it: step 1 before the peak window of 3 full-batch steps
// (2–4), step 5 after it, so the next point's weights reuse weight-sized blocks, not a larger point's activation segments.
import { loadModelDims, planMemory, type GpuSpec, type ModelDims } from '../../src/memory/index.ts';
import {
  WorkerCrashError,
  type Attention,
  type MemoryStats,
  type Precision,
} from '../../src/worker/index.ts';
import { errorText, median, round, saveResults, timeLeftMs, type CheckContext } from './context.ts';
import { fixedLengths, writeSyntheticDataset } from './dataset.ts';
import { CHINESE_VOCAB } from './scenario.ts';
import type { GridRow, GridSection } from './types.ts';
import { CheckWorker, NUM_LABELS, rangeBatch } from './worker.ts';

/** Issue 5's target for the refit engine on GPU: median |error| of the peak ≤ 3 %. */
export const TARGET_MEDIAN_ERROR = 0.03;
/** The grid stops when less than this is left of the run's time. */
export const GRID_RESERVE_MS = 25_000;

/** One grid point. */
export interface GridPoint {
  model: 'tiny' | 'base' | 'large';
  precision: Precision;
  attention: Attention;
  grad_checkpointing: boolean;
  batch: number;
  seq: number;
  /** absent: AdamW; adamw-8bit points repeat an AdamW point, so the step time compares with and without the lever */
  optimizer?: 'adamw-8bit';
}

/** The same points trained with 8-bit AdamW. */
const eightBit = (points: GridPoint[]): GridPoint[] => points.map((p) => ({ ...p, optimizer: 'adamw-8bit' }));

const PRESET = { tiny: 'bert-tiny', base: 'bert-base', large: 'bert-large' } as const;

function cross(
  model: GridPoint['model'],
  precs: Precision[],
  attns: Attention[],
  ckpts: boolean[],
  shapes: Array<[number, number]>,
): GridPoint[] {
  const out: GridPoint[] = [];
  for (const precision of precs)
    for (const attention of attns)
      for (const grad_checkpointing of ckpts)
        for (const [batch, seq] of shapes) {
          out.push({ model, precision, attention, grad_checkpointing, batch, seq });
        }
  return out;
}

/** The grid in priority order (base first: it is the model of the motivating case); quick = tiny CPU smoke points. */
export function gridPoints(quick: boolean): GridPoint[] {
  if (quick) {
    return [
      ...cross('tiny', ['fp32'], ['eager', 'sdpa'], [false, true], [[4, 32]]),
      ...cross('tiny', ['bf16'], ['sdpa'], [false], [[4, 32]]),
      ...eightBit(cross('tiny', ['fp32'], ['sdpa'], [false], [[4, 32]])),
    ];
  }
  return [
    ...cross(
      'base',
      ['fp32', 'bf16'],
      ['eager', 'sdpa'],
      [false, true],
      [
        [16, 256],
        [32, 512],
      ],
    ),
    ...cross('base', ['fp32', 'bf16'], ['eager', 'sdpa'], [false], [[8, 128]]),
    ...eightBit(cross('base', ['fp32', 'bf16'], ['sdpa'], [false], [[16, 256]])),
    ...cross(
      'tiny',
      ['fp32', 'bf16'],
      ['eager', 'sdpa'],
      [false],
      [
        [32, 128],
        [64, 256],
      ],
    ),
    ...cross('tiny', ['bf16'], ['sdpa'], [true], [[64, 256]]),
    ...cross('tiny', ['fp32'], ['eager'], [true], [[64, 256]]),
    ...cross('large', ['bf16'], ['sdpa'], [false, true], [[16, 512]]),
    ...cross('large', ['fp32'], ['eager', 'sdpa'], [false], [[8, 128]]),
    ...eightBit(cross('large', ['bf16'], ['sdpa'], [false, true], [[16, 512]])),
  ];
}

/** An empty part (a) section. */
export function emptyGrid(quick: boolean, cuda: boolean): GridSection {
  return {
    comparison: cuda
      ? 'planMemory(engine refit) vs torch.cuda.max_memory_allocated / max_memory_reserved after 3 steps; device = reserved + (total − free − reserved)'
      : 'CPU smoke test only: predicted GPU peak vs the worker process peak RSS (not an accuracy measure)',
    points_planned: gridPoints(quick).length,
    rows: [],
    stopped_early: null,
    summary: {
      points_run: 0,
      ok: 0,
      median_abs_err_allocated: null,
      max_abs_err_allocated: null,
      median_abs_err_reserved: null,
      max_abs_err_reserved: null,
      median_abs_err_device: null,
      median_nonpytorch: null,
      target_median: TARGET_MEDIAN_ERROR,
      pass: null,
    },
  };
}

/** Runs part (a) until done or out of time, saving after every point. */
export async function runGrid(ctx: CheckContext): Promise<void> {
  const sec = ctx.results.grid;
  const points = gridPoints(ctx.quick);
  const cuda = ctx.device === 'cuda';
  ctx.say(`(a) plan vs measured peak, ${points.length} points`);
  let worker: CheckWorker | undefined;
  let opened = new Set<string>();
  try {
    for (const [i, p] of points.entries()) {
      if (timeLeftMs(ctx) < GRID_RESERVE_MS) {
        sec.stopped_early = `time budget: ${i} of ${points.length} points run, stopped with ${Math.round(timeLeftMs(ctx) / 1000)} s left`;
        ctx.say(`  ${sec.stopped_early}`);
        break;
      }
      if (worker && p.model !== points[i - 1].model) {
        await worker.close(); // a new model size starts on fresh allocator segments
        worker = undefined;
      }
      if (!worker) {
        try {
          worker = await CheckWorker.start({
            python: ctx.python,
            env: ctx.env,
            log: ctx.log,
            num_threads: ctx.num_threads,
            extra_env: { REFIT_INJECT_OOM: '1,5' },
          });
          opened = new Set();
        } catch (e) {
          sec.rows.push({
            model: p.model,
            precision: p.precision,
            attention: p.attention,
            grad_checkpointing: p.grad_checkpointing,
            batch: p.batch,
            seq: p.seq,
            ok: false,
            error: `worker did not start: ${errorText(e)}`,
          });
          saveResults(ctx);
          continue;
        }
      }
      const row = await measurePoint(ctx, worker, opened, p);
      sec.rows.push(row);
      ctx.say(
        `  ${label(p)}: ${row.ok ? `measured ${mib(row.measured?.peak_allocated ?? row.measured?.peak_rss)} predicted ${mib(row.predicted?.peak_allocated)} (${pct(row.rel_err?.allocated)})` : row.oom ? 'OOM' : `error: ${row.error}`}`,
      );
      if (row.error && (worker.proc.state === 'crashed' || worker.proc.state === 'stopped')) {
        await worker.close();
        worker = undefined;
      }
      summarize(sec, cuda);
      saveResults(ctx);
    }
  } finally {
    await worker?.close();
  }
}

async function measurePoint(
  ctx: CheckContext,
  worker: CheckWorker,
  opened: Set<string>,
  p: GridPoint,
): Promise<GridRow> {
  const row: GridRow = {
    model: p.model,
    precision: p.precision,
    attention: p.attention,
    grad_checkpointing: p.grad_checkpointing,
    batch: p.batch,
    seq: p.seq,
    ...(p.optimizer ? { optimizer: p.optimizer } : {}),
    ok: false,
  };
  const dims = loadModelDims(PRESET[p.model], { vocab_size: CHINESE_VOCAB });
  try {
    row.predicted = predict(dims, p, ctx.gpu);
    const name = `b${p.batch}_s${p.seq}`;
    if (!opened.has(name)) {
      const path = writeSyntheticDataset({
        dir: ctx.tmp_dir,
        name: `grid-${name}`,
        lengths: fixedLengths(p.batch, p.seq),
        vocab_size: CHINESE_VOCAB,
        num_labels: NUM_LABELS,
        seed: 3,
      });
      await worker.open(name, path);
      opened.add(name);
    }
    const loaded = await worker.load({
      dims,
      device: ctx.device,
      precision: p.precision,
      attention: p.attention,
      grad_checkpointing: p.grad_checkpointing,
      optimizer: p.optimizer ?? 'adamw',
    });
    row.params = loaded.params;
    const batch = [rangeBatch(0, p.batch, p.seq)];
    // Warm step with an injected OOM: the worker frees it and empties the CUDA cache (on CPU: the same path, no cache).
    row.cache_flushed = (await worker.step({ step: 1, dataset: name, micro_batches: batch })).type === 'oom';
    const before = await worker.memory(true);
    const t0 = performance.now();
    let last: MemoryStats | undefined;
    for (let k = 2; k <= 4; k++) {
      const ev = await worker.step({ step: k, dataset: name, micro_batches: batch });
      if (ev.type === 'oom') {
        row.oom = ev.message.split('\n')[0].slice(0, 300);
        return row;
      }
      last = ev.memory;
    }
    row.step_s = round((performance.now() - t0) / 3000, 4);
    record(
      row,
      last!,
      before.memory_allocated,
      ctx.device === 'cuda' ? await worker.nonPytorch() : undefined,
    );
    row.ok = true;
    await worker.step({ step: 5, dataset: name, micro_batches: batch }); // injected OOM: activations out of the cache
  } catch (e) {
    row.error = errorText(e);
    if (e instanceof WorkerCrashError) row.error = `worker crashed: ${row.error}`;
  }
  return row;
}

function predict(dims: ModelDims, p: GridPoint, gpu: GpuSpec | undefined): NonNullable<GridRow['predicted']> {
  const plan = planMemory({
    model: dims,
    run: {
      engine: 'refit',
      mode: 'train',
      batch_size: p.batch,
      seq_len: p.seq,
      precision: p.precision,
      attention: p.attention,
      grad_checkpointing: p.grad_checkpointing,
      optimizer: p.optimizer ?? 'adamw',
      num_labels: NUM_LABELS,
      head: 'entity-start',
    },
    gpu,
  });
  return {
    peak_allocated: plan.peak_allocated_bytes,
    peak_reserved: plan.peak_reserved_bytes,
    peak_device: plan.peak_device_bytes,
    context: plan.breakdown.context,
    peak_phase: plan.peak_phase,
  };
}

function record(
  row: GridRow,
  m: MemoryStats,
  weights: number | undefined,
  nonpytorch: number | undefined,
): void {
  const pr = row.predicted!;
  const err = (pred: number, meas: number | undefined) => (meas ? round((pred - meas) / meas, 4) : undefined);
  if (m.device === 'cuda') {
    row.measured = {
      peak_allocated: m.max_memory_allocated,
      peak_reserved: m.max_memory_reserved,
      nonpytorch,
      weights_allocated: weights,
    };
    const device =
      m.max_memory_reserved !== undefined && nonpytorch !== undefined
        ? m.max_memory_reserved + nonpytorch
        : undefined;
    row.rel_err = {
      allocated: err(pr.peak_allocated, m.max_memory_allocated),
      reserved: err(pr.peak_reserved, m.max_memory_reserved),
      device: err(pr.peak_device, device),
    };
  } else {
    row.measured = { peak_rss: m.peak_rss_bytes };
    row.rel_err = { allocated: err(pr.peak_allocated, m.peak_rss_bytes) };
  }
}

function summarize(sec: GridSection, cuda: boolean): void {
  const ok = sec.rows.filter((r) => r.ok);
  const abs = (f: (r: GridRow) => number | undefined) =>
    ok
      .map(f)
      .filter((x): x is number => x !== undefined)
      .map(Math.abs);
  const stat = (xs: number[], fn: (xs: number[]) => number) => (xs.length ? round(fn(xs), 4) : null);
  const a = abs((r) => r.rel_err?.allocated);
  const r = abs((r) => r.rel_err?.reserved);
  const s = sec.summary;
  s.points_run = sec.rows.length;
  s.ok = ok.length;
  s.median_abs_err_allocated = stat(a, median);
  s.max_abs_err_allocated = stat(a, (xs) => Math.max(...xs));
  s.median_abs_err_reserved = stat(r, median);
  s.max_abs_err_reserved = stat(r, (xs) => Math.max(...xs));
  s.median_abs_err_device = stat(
    abs((x) => x.rel_err?.device),
    median,
  );
  const np = ok.map((x) => x.measured?.nonpytorch).filter((x): x is number => x !== undefined);
  s.median_nonpytorch = np.length ? median(np) : null;
  s.pass =
    cuda && s.median_abs_err_allocated !== null ? s.median_abs_err_allocated <= TARGET_MEDIAN_ERROR : null;
}

function label(p: GridPoint): string {
  const opt = p.optimizer ? ` ${p.optimizer}` : '';
  return `${p.model}${opt} ${p.precision} ${p.attention} ckpt=${p.grad_checkpointing ? 1 : 0} b${p.batch} s${p.seq}`;
}

function mib(x: number | undefined): string {
  return x === undefined ? '—' : `${(x / 2 ** 20).toFixed(0)} MiB`;
}

function pct(x: number | undefined): string {
  return x === undefined ? '—' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
}
