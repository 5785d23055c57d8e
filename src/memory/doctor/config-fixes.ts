// `refit doctor -c CONFIG`: each fix becomes a concrete config change with its predicted peak and speed,
// from the memory planner (planMemory) and the fitter (fitConfig) under the budget the OOM message shows.
// For a DeepKE run (-c conf/) the fixes also come as the DeepKE overrides that exist (batch_size, num_hidden_layers).
import { existsSync } from 'node:fs';
import { resolveConfigDetailed, type ResolvedConfig } from '../../config/index.ts';
// From the memory files themselves, not ../index.ts (which re-exports this folder: an import circle).
import { FIT_LEVERS } from '../levers.ts';
import { GPUS, resolveGpu } from '../gpus.ts';
import { deepkeFacts, runShapeOf } from '../run-shape.ts';
import { fitConfig, type FitShape } from '../fit.ts';
import { knownModelDims } from '../known-models.ts';
import { modelFromConfig } from '../model-files.ts';
import { planMemory } from '../plan.ts';
import type { Engine, FitCandidate, GpuSpec, MemoryPlan, ModelDims, RunShape } from '../types.ts';
import type { Diagnosis } from './diagnose.ts';
import { dataParallelFix, deepkeFixes } from './deepke-fixes.ts';
import { causeFixes, generalFixes, type DoctorFix } from './fixes.ts';
import type { OomReport } from './parse.ts';
import { formatBytes as fmt } from '../../bytes.ts';

/**
 * What the config-based fixes start from: the config file (or DeepKE conf folder) with its `key=value`
 * overrides, and optionally the card and the engine (`engine` given by the user wins; else a DeepKE conf
 * folder is DeepKE's `hf` run; else `log_engine`, what the log's traceback shows).
 */
export interface ConfigFixOptions {
  config_path: string;
  overrides?: string[];
  gpu?: string;
  engine?: string;
  log_engine?: string;
  lengths?: number[];
  env?: Readonly<Record<string, string | undefined>>;
  warn?: (line: string) => void;
}

/**
 * The run the doctor plans from: model, run shape (at the longest padded batch), effective batch, padding, the window
 * fixes search over (memory.max_seq_len, or the fixed padded length) and what was read as what.
 */
export interface Current {
  model: ModelDims;
  model_name: string;
  run: RunShape;
  effective: number;
  padding: 'dynamic' | 'max';
  window: number;
  lengths?: number[];
  assumed: string[];
  /** DeepKE's run (the hf engine on a conf folder or DeepKE's LM head): its own overrides are fixes too */
  deepke: boolean;
}

/**
 * The config-based fixes of a report, the note on what was planned, and the config as planned (`refit plan
 * --json`'s object).
 */
export interface ConfigFixes {
  fixes: DoctorFix[];
  note?: string;
  current: MemoryPlan;
}

/** Loads the run config now (bad config → one-line error, exit 2) and returns the fix planner for a report. */
export function configFixesFor(opts: ConfigFixOptions): (r: OomReport, d: Diagnosis) => ConfigFixes {
  const resolved = resolveConfigDetailed({
    file: opts.config_path,
    overrides: opts.overrides ?? [],
    env: opts.env,
    warn: opts.warn,
  });
  const given = opts.engine ?? (resolved.hydra ? 'hf' : opts.log_engine);
  const engine: Engine = given === 'hf' ? 'hf' : 'refit';
  const current = currentRun(resolved, engine, opts.lengths);
  const card = opts.gpu ? resolveGpu(opts.gpu) : undefined;
  return (r, d) => planFixes(r, d, current, card);
}

/**
 * The run the config describes, as runShapeOf reads it (`refit plan -c` plans the same): `auto` levers as a plain run
 * of the engine, DeepKE's facts for the hf engine (every batch padded to 512 without a length in the config,
 * use_multi_gpu's DataParallel over device_ids), dynamic padding at the longest of `lengths` when given.
 */
function currentRun(resolved: ResolvedConfig, engine: Engine, lengths: number[] | undefined): Current {
  const config = resolved.config;
  const spec = config.model.pretrained ?? config.model.preset ?? 'bert-base';
  const model = modelFromConfig(config);
  const shape = runShapeOf(config, {
    engine,
    lengths,
    ...deepkeFacts({
      engine,
      config_file: true,
      explicit_seq_len: resolved.explicit.has('memory.max_seq_len'),
      device_ids: config.device_ids,
    }),
  });
  // DeepKE's overrides are fixes only for the run DeepKE makes of it (hf), not for refit's own run of the conf.
  const deepke = engine === 'hf' && (resolved.hydra !== undefined || config.model.head === 'deepke-lm');
  return {
    model,
    model_name: existsSync(spec) ? spec : (knownModelDims(spec)?.id ?? spec),
    run: shape.run,
    effective: shape.effective_batch,
    padding: shape.padding,
    window: shape.padding === 'max' ? shape.run.seq_len : config.memory.max_seq_len,
    lengths,
    assumed: shape.assumed,
    deepke,
  };
}

/** What a fit keeps from the current run (head, RNN, frozen layers, DataParallel). */
function shapeOf(run: RunShape): FitShape {
  return { head: run.head, rnn: run.rnn, freeze_layers: run.freeze_layers, data_parallel: run.data_parallel };
}

const GIB = 2 ** 30;

/**
 * The card the OOM happened on: its limit from the message; bf16 and speed from --gpu or the table cards of
 * that size.
 */
function cardFor(r: OomReport, d: Diagnosis, card?: GpuSpec): GpuSpec | undefined {
  let limit = d.figures.limit_bytes ?? card?.memory_bytes;
  if (limit === undefined) return undefined;
  // Other processes stay unless stopped: plan within what is left.
  if (d.cause === 'contention' && d.figures.others_bytes) limit -= d.figures.others_bytes;
  if (card) return { ...card, memory_bytes: limit };
  const same = Object.values(GPUS).filter(
    (g) => Math.abs(g.memory_bytes - (r.total_bytes ?? limit)) <= 0.1 * GIB,
  );
  const slowest = [...same].sort((a, b) => (a.fp32_tflops ?? 0) - (b.fp32_tflops ?? 0))[0];
  const like = same.length
    ? ` (like ${same
        .map((g) => g.name)
        .slice(0, 3)
        .join(', ')})`
    : '';
  const capped =
    r.allowed_bytes !== undefined && r.total_bytes !== undefined && r.allowed_bytes < r.total_bytes;
  return {
    ...(slowest ?? {}),
    name: `${capped ? `${fmt(limit)} cap of a ${fmt(r.total_bytes ?? 0)}` : fmt(limit)} card${like}`,
    memory_bytes: limit,
    bf16: same.length > 0 && same.every((g) => g.bf16),
    hopper: false,
  };
}

function candidateFix(c: FitCandidate, cur: Current, fastest: number): DoctorFix {
  const config: Record<string, string | number | boolean> = {};
  const set = (key: string, value: string | number | boolean, was: unknown): void => {
    if (value !== was) config[key] = value;
  };
  // the levers fit searched (the lever table), then the split and the window
  for (const l of FIT_LEVERS)
    set(
      l.key,
      (c.config as Record<string, string | number | boolean>)[l.name],
      (cur.run as unknown as Record<string, unknown>)[l.name],
    );
  set('memory.micro_batch_size', c.config.micro_batch_size, cur.run.batch_size);
  set('memory.grad_accumulation', c.config.grad_accumulation, Math.ceil(cur.effective / cur.run.batch_size));
  set('memory.max_seq_len', c.config.seq_len, cur.window);
  if (cur.lengths) set('memory.padding', c.config.padding, cur.padding);
  if (config['memory.micro_batch_size'] !== undefined) config['memory.mode'] = 'manual';
  const parts = Object.entries(config)
    .filter(([k]) => k !== 'memory.mode')
    .map(([k, v]) => `${k.slice(7)} ${v}`);
  const ratio = fastest > 0 ? c.predicted_examples_per_s / fastest : 1;
  const speed = ratio >= 0.995 ? 'fastest that fits' : `${ratio.toFixed(2)}× the fastest`;
  return {
    title: parts.length ? `Set ${parts.join(', ')}` : 'Keep the config (it fits)',
    detail:
      `micro-batch ${c.config.micro_batch_size} × accumulation ${c.config.grad_accumulation} = effective batch ` +
      `${c.config.micro_batch_size * c.config.grad_accumulation}, ${c.config.precision}, ` +
      `${c.config.attention} attention` +
      `${c.config.grad_checkpointing ? ', gradient checkpointing' : ''}, seq ${c.config.seq_len}` +
      `${cur.lengths ? ` (${c.config.padding} padding)` : ''}: predicted peak ` +
      `${fmt(c.peak_device_bytes)} on the device${c.fits ? '' : ' (still too much)'}.`,
    speed,
    config,
    predicted_peak_bytes: c.peak_device_bytes,
    predicted_examples_per_s: c.predicted_examples_per_s,
    fits: c.fits,
  };
}

function planFixes(r: OomReport, d: Diagnosis, cur: Current, card?: GpuSpec): ConfigFixes {
  const gpu = cardFor(r, d, card);
  if (!gpu) {
    return {
      current: planMemory({ model: cur.model, run: cur.run }),
      fixes: generalFixes(r, d),
      note:
        'The message does not say how much memory the card has (driver/library errors and ' +
        'truncated messages carry no sizes): give --gpu NAME|SIZE to plan config changes.',
    };
  }
  // cur.run is planned at the longest padded batch (with real lengths and dynamic padding, the longest example's).
  const now = planMemory({ model: cur.model, run: cur.run, gpu });
  const base = {
    model: cur.model,
    gpu,
    effective_batch: cur.effective,
    engine: cur.run.engine,
    num_labels: cur.run.num_labels,
    lengths: cur.lengths,
    shape: shapeOf(cur.run),
  };
  const fit = fitConfig({ ...base, seq_len: cur.window });
  let candidates: FitCandidate[] = [fit, ...fit.alternatives];
  // Nothing fits at this length: shorter sequences (they truncate long examples, so they come last).
  for (let seq = cur.window >> 1; !candidates.some((c) => c.fits) && seq >= 64; seq >>= 1) {
    const shorter = fitConfig({ ...base, seq_len: seq });
    candidates = [...candidates, shorter, ...shorter.alternatives];
  }
  const ranked = candidates
    .filter((c) => c.fits)
    .sort((a, b) => b.predicted_examples_per_s - a.predicted_examples_per_s);
  const fixes = [
    ...causeFixes(r, d),
    ...(ranked.length ? ranked : candidates.slice(0, 1)).map((c) =>
      candidateFix(c, cur, ranked[0]?.predicted_examples_per_s ?? 0),
    ),
  ];
  if (cur.deepke && !now.fits) fixes.push(...deepkeFixes({ cur, gpu, budget: fit.budget_bytes }));
  // DeepKE's use_multi_gpu (nn.DataParallel): GPU 0 carries more than the others; the same GPUs as DDP share evenly.
  const ddp = dataParallelFix({ cur, gpu, budget: fit.budget_bytes, gpu0_peak: now.peak_device_bytes });
  // Ahead of the refit settings when it fits by itself; otherwise last, still saying why GPU 0 ran out first.
  if (ddp) {
    if (ddp.fits) fixes.splice(causeFixes(r, d).length, 0, ddp);
    else fixes.push(ddp);
  }
  const verdict = now.fits
    ? 'fits by the plan, so the cause above (not the config) is what to fix first'
    : 'does not fit';
  const note =
    `Planned from the config: ${cur.model_name} (${cur.run.engine} engine), micro-batch ${cur.run.batch_size} of ` +
    `${cur.effective}, seq ${cur.window}, ${cur.run.precision}, ${cur.run.attention}` +
    `${cur.run.grad_checkpointing ? ', checkpointing' : ''}: predicted peak ${fmt(now.peak_device_bytes)} ` +
    `vs ${fmt(gpu.memory_bytes)} ` +
    `on the ${gpu.name} → ${verdict}.${cur.assumed.length ? ` (${cur.assumed.join('; ')})` : ''} ` +
    'Fixes keep the effective batch ' +
    `of ${cur.effective}, fastest first, with a ` +
    `${Math.round((1 - fit.budget_bytes / gpu.memory_bytes) * 100)} % safety margin` +
    (cur.deepke
      ? '; the refit settings are for refit train -c (refit runs the same model), ' +
        "the DeepKE overrides for DeepKE's run.py"
      : '') +
    '.';
  return { fixes, note, current: now };
}
