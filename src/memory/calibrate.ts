// Calibration of the derived coefficients on measured rows (../shared/golden/memory): weighted least squares
// on relative error, a leave-one-model-out check, and the reserve/context/cost constants. Pure: the caller
// reads the files. Used by bench/memory-calibrate.ts, bench/memory-accuracy.ts and test/memory.
import { activationTrafficBytes, trainFlopsPerToken } from './cost.ts';
import {
  actClass,
  inferClass,
  type InferClass,
  backwardFixed,
  estimateWith,
  exactTerms,
  hfTraits,
  inferFeatures,
  inferFixed,
  stepPeak,
  trainFeatures,
  type ActClass,
  type Coefficients,
} from './profiles/index.ts';
import type { GpuSpec, ModelDims, RunShape } from './types.ts';

/** One `kind: "train"` line of h200-hf-bert-public.jsonl (the fields used here). */
export interface GoldenRow {
  kind: string;
  model: string;
  attn: 'eager' | 'sdpa';
  prec: 'fp32' | 'bf16' | 'fp16';
  ckpt: number;
  batch: number;
  seq: number;
  params: number;
  ok: boolean;
  split?: string;
  base_alloc: number;
  peak_alloc: number;
  peak_reserved: number;
  nonpytorch: number;
  infer_peak_alloc: number;
  step_ms?: number;
}

/** The run a golden row measured (hf engine, foreach AdamW, 50 relations). */
export function goldenRun(row: GoldenRow, mode: 'train' | 'infer'): RunShape {
  return {
    engine: 'hf',
    mode,
    batch_size: row.batch,
    seq_len: row.seq,
    precision: row.prec,
    attention: row.attn,
    grad_checkpointing: row.ckpt === 1,
    optimizer: 'adamw',
    num_labels: 50,
    head: 'entity-start',
  };
}

const CLASSES: ActClass[] = ['fp32-eager', 'amp-eager', 'fp32-sdpa', 'amp-sdpa'];
const INFER_CLASSES: InferClass[] = [
  'fp32-eager',
  'bf16-eager',
  'fp16-eager',
  'fp32-sdpa',
  'bf16-sdpa',
  'fp16-sdpa',
];
const TRAIN_KEYS = ['layer', 'sq', 'bsh', 'tr'] as const;
const INFER_KEYS = ['ffn', 'sq', 'amp'] as const;

/** Solves min Σ w²(Xc − y)² with non-negative c (drop negative columns and refit). */
export function leastSquares(X: number[][], y: number[], w: number[]): number[] {
  const n = X[0]?.length ?? 0;
  let active = [...Array(n).keys()].filter((j) => X.some((r) => r[j] !== 0));
  for (;;) {
    const k = active.length;
    const A = Array.from({ length: k }, () => new Array(k + 1).fill(0));
    X.forEach((row, i) => {
      const wi = w[i] * w[i];
      for (let p = 0; p < k; p++) {
        for (let q = 0; q < k; q++) A[p][q] += wi * row[active[p]] * row[active[q]];
        A[p][k] += wi * row[active[p]] * y[i];
      }
    });
    const sol = solve(A);
    const neg = sol.findIndex((v) => v < 0);
    if (neg < 0) {
      const c = new Array(n).fill(0);
      active.forEach((j, p) => (c[j] = sol[p]));
      return c;
    }
    active = active.filter((_, p) => p !== neg);
  }
}

function solve(A: number[][]): number[] {
  const k = A.length;
  for (let i = 0; i < k; i++) {
    let piv = i;
    for (let r = i + 1; r < k; r++) if (Math.abs(A[r][i]) > Math.abs(A[piv][i])) piv = r;
    [A[i], A[piv]] = [A[piv], A[i]];
    for (let r = 0; r < k; r++) {
      if (r === i || A[i][i] === 0) continue;
      const f = A[r][i] / A[i][i];
      for (let c = i; c <= k; c++) A[r][c] -= f * A[i][c];
    }
  }
  return A.map((row, i) => (row[i] === 0 ? 0 : row[k] / row[i]));
}

/** A golden row with its model dims attached. */
export interface Sample {
  row: GoldenRow;
  model: ModelDims;
}

/** Fits the training coefficients per class on rows whose peak is at the start of backward. */
export function fitTrain(
  samples: Sample[],
  device: GpuSpec,
): Record<ActClass, Record<(typeof TRAIN_KEYS)[number], number>> {
  const out = {} as Record<ActClass, Record<(typeof TRAIN_KEYS)[number], number>>;
  for (const cls of CLASSES) {
    const X: number[][] = [];
    const y: number[] = [];
    const w: number[] = [];
    for (const { row, model } of samples) {
      const run = goldenRun(row, 'train');
      if (actClass(run) !== cls || row.prec === 'fp16') continue; // fp16 rows equal bf16 ones: do not double-weight
      const x = exactTerms(model, run, hfTraits(), device);
      // optimizer-step peak: exact, carries no activation information
      if (row.peak_alloc < 1.03 * stepPeak(x)) continue;
      const f = trainFeatures(model, run);
      X.push(TRAIN_KEYS.map((k) => f[k]));
      y.push(row.peak_alloc - backwardFixed(x));
      w.push(1 / row.peak_alloc);
    }
    const c = X.length ? leastSquares(X, y, w) : [1, 1, 0, 0];
    out[cls] = Object.fromEntries(TRAIN_KEYS.map((k, i) => [k, round4(c[i])])) as Record<
      (typeof TRAIN_KEYS)[number],
      number
    >;
  }
  return out;
}

// fp16 and bf16 SDPA inference measure byte-identical: fit them together; eager differs (softmax path).
function sameInferClass(a: InferClass, b: InferClass): boolean {
  const norm = (c: InferClass) => (c.endsWith('sdpa') ? c.replace('fp16', 'bf16') : c);
  return norm(a) === norm(b);
}

/** Fits the inference coefficients per class (all rows without checkpointing; the forward is the same). */
export function fitInfer(
  samples: Sample[],
  device: GpuSpec,
): Record<InferClass, Record<(typeof INFER_KEYS)[number], number>> {
  const out = {} as Record<InferClass, Record<(typeof INFER_KEYS)[number], number>>;
  for (const cls of INFER_CLASSES) {
    const X: number[][] = [];
    const y: number[] = [];
    const w: number[] = [];
    for (const { row, model } of samples) {
      const run = goldenRun(row, 'infer');
      if (!sameInferClass(inferClass(run), cls) || row.ckpt) continue;
      const f = inferFeatures(model, run);
      X.push(INFER_KEYS.map((k) => f[k]));
      y.push(row.infer_peak_alloc - inferFixed(exactTerms(model, run, hfTraits(), device)));
      w.push(1 / row.infer_peak_alloc);
    }
    if (X.length)
      out[cls] = Object.fromEntries(
        INFER_KEYS.map((k, i) => [k, round4(leastSquares(X, y, w)[i])]),
      ) as Record<(typeof INFER_KEYS)[number], number>;
  }
  // a class without rows (fp16 when only bf16 was measured) borrows its 16-bit sibling
  for (const cls of INFER_CLASSES) {
    out[cls] ??= out[cls.replace(/^(fp16|bf16)/, (p) => (p === 'fp16' ? 'bf16' : 'fp16')) as InferClass] ?? {
      ffn: 4,
      sq: 0,
      amp: 0,
    };
  }
  return out;
}

/**
 * Fits peak_reserved ≈ factor × peak_alloc + bytes (least squares in bytes: the large runs, where it matters,
 * lead).
 */
export function fitReserve(rows: GoldenRow[]): { factor: number; bytes: number } {
  const c = leastSquares(
    rows.map((r) => [r.peak_alloc, 1]),
    rows.map((r) => r.peak_reserved),
    rows.map(() => 1),
  );
  return { factor: round4(c[0]), bytes: Math.round(c[1]) };
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function round4(v: number): number {
  return Number(v.toPrecision(4));
}

/** One predicted-vs-measured comparison. */
export interface AccuracyRow {
  row: GoldenRow;
  mode: 'train' | 'infer';
  predicted: number;
  measured: number;
  rel_err: number;
}

/** Predicts every sample (train peak and inference peak) with `coefficients` (default: the calibrated table). */
export function accuracy(samples: Sample[], device: GpuSpec, coefficients?: Coefficients): AccuracyRow[] {
  const out: AccuracyRow[] = [];
  for (const { row, model } of samples) {
    for (const mode of ['train', 'infer'] as const) {
      const measured = mode === 'train' ? row.peak_alloc : row.infer_peak_alloc;
      if (!measured) continue;
      const est = estimateWith({
        traits: hfTraits(),
        model,
        run: goldenRun(row, mode),
        device,
        coefficients,
      });
      out.push({
        row,
        mode,
        predicted: est.peak_allocated_bytes,
        measured,
        rel_err: (est.peak_allocated_bytes - measured) / measured,
      });
    }
  }
  return out;
}

/** Leave-one-model-out: fit on the other models, predict the held-out one; returns the held-out rows. */
export function leaveOneModelOut(samples: Sample[], device: GpuSpec): AccuracyRow[] {
  const models = [...new Set(samples.map((s) => s.row.model))];
  return models.flatMap((m) => {
    const train = samples.filter((s) => s.row.model !== m);
    const coef: Coefficients = { train: fitTrain(train, device), infer: fitInfer(train, device) };
    return accuracy(
      samples.filter((s) => s.row.model === m),
      device,
      coef,
    );
  });
}

/** Fits the cost model on the rows with step times: launch floor per class, then GEMM efficiency and traffic factor. */
export function fitCost(samples: Sample[], device: GpuSpec) {
  const timed = samples.filter((s) => s.row.step_ms);
  const launch = {} as Record<ActClass, number>;
  const ckptRatio: number[] = [];
  for (const cls of CLASSES) {
    const rows = timed.filter((s) => actClass(goldenRun(s.row, 'train')) === cls);
    const floor = (ck: number) =>
      Math.min(
        ...rows.filter((s) => s.row.ckpt === ck).map((s) => s.row.step_ms! / s.model.num_hidden_layers),
      );
    launch[cls] = round4(floor(0));
    ckptRatio.push(floor(1) / floor(0));
  }
  // rows well above their launch floor are compute/bandwidth-bound: time = a·FLOPs/peak + k·traffic/bandwidth
  const X: number[][] = [];
  const y: number[] = [];
  const w: number[] = [];
  for (const s of timed) {
    const run = goldenRun(s.row, 'train');
    if (s.row.ckpt || s.row.step_ms! < 1.25 * launch[actClass(run)] * s.model.num_hidden_layers) continue;
    const peak = (run.precision === 'fp32' ? device.fp32_tflops : device.tensor16_tflops) ?? 67;
    X.push([
      ((s.row.batch * s.row.seq * trainFlopsPerToken(s.model, s.row.seq)) / (peak * 1e12)) * 1e3,
      (activationTrafficBytes(s.model, run, s.row.seq) / ((device.bandwidth_gbs ?? 4800) * 1e9)) * 1e3,
    ]);
    y.push(s.row.step_ms!);
    w.push(1 / s.row.step_ms!);
  }
  const [a, k] = X.length >= 2 ? leastSquares(X, y, w) : [2, 10];
  return {
    launch_ms_per_layer: launch,
    checkpoint_launch_factor: round4(median(ckptRatio)),
    efficiency: round4(a > 0 ? 1 / a : 0.5),
    traffic_per_activation_byte: round4(k),
  };
}
