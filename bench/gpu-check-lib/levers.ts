// Part (e), the levers of issue 21: each lever measured on its own, the same run (model, batch, length, precision,
// data, steps) once without it and once with it — measured peak vs planned, and step time vs the run without it.
// A lever is one entry of LEVER_CHECKS: the config overrides that turn it on.
import { loadModelDims, offloadMs } from '../../src/memory/index.ts';
import { autoPlan, configOf, loadSpecOf, planSummary, stepsOf } from './auto.ts';
import { errorText, round, saveResults, type CheckContext } from './context.ts';
import { fixedLengths, writeSyntheticDataset } from './dataset.ts';
import { CHINESE_VOCAB } from './scenario.ts';
import type { LeverRow, LeversSection, VariantResult } from './types.ts';
import { runVariant } from './variant.ts';

/** One lever to measure: its name and the config overrides that turn it on. */
export interface LeverCheck {
  lever: string;
  overrides: string[];
}

/** The levers part (e) measures, each against the same run without it. */
export const LEVER_CHECKS: readonly LeverCheck[] = Object.freeze([
  // LoRA rank 8 on query and value (alpha 16, dropout 0): frozen base, adapters + head trained
  { lever: 'lora', overrides: ['model.lora.rank=8'] },
  // optimizer states and the step on the host; saved activations in host memory; both
  { lever: 'offload optimizer', overrides: ['memory.offload=optimizer'] },
  { lever: 'offload activations', overrides: ['memory.offload=activations'] },
  { lever: 'offload all', overrides: ['memory.offload=all'] },
]);

/** The run every lever is measured on: BERT-base at 512 on a GPU, bert-tiny on CPU. */
function shape(quick: boolean) {
  return quick
    ? { preset: 'bert-tiny', seq: 64, batch: 8, micro: 4, steps: 3, warm: 1 }
    : { preset: 'bert-base', seq: 512, batch: 32, micro: 8, steps: 8, warm: 2 };
}

/** An empty part (e) section (filled by runLevers). */
export function emptyLevers(quick: boolean, cuda: boolean): LeversSection {
  const s = shape(quick);
  return {
    model: `${s.preset} (vocab ${CHINESE_VOCAB})`,
    seq_len: s.seq,
    effective_batch: s.batch,
    micro_batch_size: s.micro,
    rows: [],
    note: cuda
      ? ''
      : 'CPU: peaks are the worker’s RSS, planned figures are CUDA bytes (not comparable); a smoke run',
  };
}

/** The manual run of a lever check: fixed levers (fp32 on CPU, the card's 16-bit autocast on CUDA), no checkpointing. */
function overridesOf(ctx: CheckContext, micro: number): string[] {
  return [
    'memory.mode=manual',
    `memory.micro_batch_size=${micro}`,
    'memory.padding=max',
    'memory.grad_checkpointing=false',
    'memory.optimizer=adamw',
    `memory.precision=${ctx.device === 'cuda' ? (ctx.caps.bf16 ? 'bf16' : 'fp16') : 'fp32'}`,
  ];
}

/** Runs part (e): the run without any lever once, then each lever's run; stored in ctx.results.levers. */
export async function runLevers(ctx: CheckContext): Promise<void> {
  const s = shape(ctx.quick);
  const sec = ctx.results.levers;
  const dims = loadModelDims(s.preset, { vocab_size: CHINESE_VOCAB });
  const lengths = fixedLengths(s.batch * s.steps, s.seq);
  const dataset = writeSyntheticDataset({
    dir: ctx.tmp_dir,
    name: 'levers',
    lengths,
    vocab_size: CHINESE_VOCAB,
    num_labels: 50,
    seed: 11,
  });
  ctx.say(`(e) levers on ${sec.model}, batch ${s.batch} (micro ${s.micro}), length ${s.seq}`);
  // the planner's non-overlapped cost of each run's offload (ms a step; null without a known card)
  const bounds = new Map<string, number | null>();
  const run = async (label: string, extra: string[]): Promise<VariantResult> => {
    const plan = autoPlan(ctx, {
      preset: s.preset,
      dims,
      batch_size: s.batch,
      max_seq_len: s.seq,
      lengths,
      extra_overrides: [...overridesOf(ctx, s.micro), ...extra],
    });
    const d = plan.decision;
    bounds.set(label, ctx.gpu && plan.plan ? offloadMs(plan.plan.host, ctx.gpu, s.batch / s.micro) : null);
    const v = await runVariant(ctx, {
      label,
      load: loadSpecOf(d, dims, s.steps),
      config: configOf(d),
      dataset,
      steps: stepsOf(d, lengths, s.steps),
      warm_steps: s.warm,
      reserve_ms: 20_000,
    });
    v.plan = planSummary(plan.plan);
    return v;
  };
  let base: VariantResult;
  try {
    base = await run('no lever', []);
  } catch (e) {
    sec.note = [sec.note, `the run without a lever failed: ${errorText(e)}`].filter(Boolean).join('; ');
    saveResults(ctx);
    return;
  }
  for (const check of LEVER_CHECKS) {
    try {
      const v = await run(check.lever, check.overrides);
      sec.rows.push(rowOf(check, base, v, { batch: s.batch, bound_ms: bounds.get(check.lever) ?? null }));
    } catch (e) {
      sec.rows.push({ lever: check.lever, overrides: check.overrides, base, error: errorText(e) });
    }
    saveResults(ctx);
  }
}

/**
 * A lever's row: its run, the run without it, measured vs planned peak, and the step-time ratio; for offload, the
 * milliseconds it adds to a step of `batch` examples against the planner's non-overlapped `bound_ms`.
 */
function rowOf(
  check: LeverCheck,
  base: VariantResult,
  withLever: VariantResult,
  o: { batch: number; bound_ms: number | null },
): LeverRow {
  const measured = withLever.peak_device;
  const planned = withLever.plan?.peak_device_bytes;
  const stepTime = (v: VariantResult) => (v.examples_per_s ? 1 / v.examples_per_s : undefined);
  const [a, b] = [stepTime(withLever), stepTime(base)];
  const offload = check.overrides.some((x) => x.startsWith('memory.offload='));
  const added = offload && a && b ? round((a - b) * o.batch * 1e3, 1) : null;
  const bound = offload && o.bound_ms ? round(o.bound_ms, 1) : null;
  return {
    lever: check.lever,
    overrides: check.overrides,
    base,
    with_lever: withLever,
    measured_peak_device: measured ?? null,
    planned_peak_device: planned ?? null,
    peak_rel_err: measured && planned ? round((planned - measured) / measured) : null,
    peak_vs_base: measured && base.peak_device ? round(measured / base.peak_device) : null,
    step_time_vs_base: a && b ? round(a / b) : null,
    ...(offload
      ? {
          offload_ms_per_step: added,
          offload_ms_bound: bound,
          offload_overlap: added !== null && bound ? round(1 - added / bound) : null,
        }
      : {}),
  };
}
