// `refit doctor -c CONFIG`: each fix becomes a concrete config change with its predicted peak and speed,
// from the memory planner (planMemory) and the fitter (fitConfig) under the budget the OOM message shows.
// For a DeepKE run (-c conf/) the fixes also come as the DeepKE overrides that exist (batch_size, num_hidden_layers).
import { resolveConfigDetailed } from '../../config/index.ts';
// From the memory files themselves, not ../index.ts (which re-exports this folder: an import circle).
import { FIT_LEVERS, PERMITS } from '../levers.ts';
import { GPUS, resolveGpu } from '../gpus.ts';
import { planConfig } from '../run-shape.ts';
import { fitConfig, valueAt } from '../fit.ts';
import type { Engine, FitCandidate, GpuSpec, MemoryPlan } from '../types.ts';
import { currentRun, type Current } from './current.ts';
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
  // the levers fit searched (the lever table), then the split and the window; each against the current run's value
  const now = { ...cur, ...cur.run } as unknown as Record<string, unknown>;
  for (const l of FIT_LEVERS)
    set(
      l.key,
      (c.config as unknown as Record<string, string | number | boolean>)[l.name],
      // a lever the run shape leaves out when off (LoRA) at the config's own value
      l.name in now ? now[l.name] : valueAt(cur.config, l.key),
    );
  set('memory.micro_batch_size', c.config.micro_batch_size, cur.run.batch_size);
  set('memory.grad_accumulation', c.config.grad_accumulation, Math.ceil(cur.effective / cur.run.batch_size));
  set('memory.max_seq_len', c.config.seq_len, cur.window);
  if (config['memory.micro_batch_size'] !== undefined) config['memory.mode'] = 'manual';
  const parts = Object.entries(config)
    .filter(([k]) => k !== 'memory.mode')
    .map(([k, v]) => `${k.replace(/^memory\./, '')} ${v}`);
  // levers that change the numerics this fix uses (what memory.allow would let fit and `memory: auto` choose)
  const numerics = FIT_LEVERS.filter((l) => l.fit!.permit && config[l.key] !== undefined).map(
    (l) => l.fit!.permit!,
  );
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
      `${fmt(c.peak_device_bytes)} on the device${c.fits ? '' : ' (still too much)'}.` +
      (numerics.length
        ? ` Changes the numerics (${numerics.join(', ')}): with memory.allow: [${numerics.join(', ')}] refit fit ` +
          'and memory: auto choose it when nothing exact fits.'
        : ''),
    speed: numerics.length ? `${speed}; changes the numerics` : speed,
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
      current: planConfig(cur).plan,
      fixes: generalFixes(r, d),
      note:
        'The message does not say how much memory the card has (driver/library errors and ' +
        'truncated messages carry no sizes): give --gpu NAME|SIZE to plan config changes.',
    };
  }
  // cur.run is planned at the longest padded batch (with real lengths and dynamic padding, the longest example's).
  // The run as `refit plan -c` plans it; fit searches the levers over the same config and facts.
  const now = planConfig({ ...cur, gpu }).plan;
  const fit = fitConfig({ ...cur, gpu });
  let candidates: FitCandidate[] = [fit, ...fit.alternatives];
  // Nothing exact fits: the levers that change the numerics (8-bit AdamW, LoRA, frozen layers) at the full length,
  // fastest first, ahead of shorter windows (which drop the end of long examples).
  const exactFits = candidates.some((c) => c.fits);
  if (!exactFits) {
    const permitted = fitConfig({ ...cur, gpu, permits: PERMITS });
    candidates = [...candidates, permitted, ...permitted.alternatives];
  }
  // Nothing fits at this length: shorter windows (they truncate long examples, so they come last), each padded as
  // the run pads (a fixed padded length becomes max padding to the shorter window).
  const { padded_length: _fixed, ...facts } = cur.facts;
  for (let seq = cur.window >> 1; !candidates.some((c) => c.fits) && seq >= 64; seq >>= 1) {
    const config = {
      ...cur.config,
      memory: { ...cur.config.memory, max_seq_len: seq, padding: cur.padding },
    };
    const shorter = fitConfig({ config, facts, model: cur.model, gpu });
    candidates = [...candidates, shorter, ...shorter.alternatives];
  }
  // the full length first (exact, then levers that change the numerics), then shorter windows; each fastest first
  const rank = (c: FitCandidate) => (c.config.seq_len < cur.window ? 1 : 0);
  const ranked = candidates
    .filter((c) => c.fits)
    .sort((a, b) => rank(a) - rank(b) || b.predicted_examples_per_s - a.predicted_examples_per_s);
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
