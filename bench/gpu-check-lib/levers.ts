// Part (e): the memory levers of issue 21, each measured against its plan and against the same run without it: one
// model shape trained a few steps with the lever at each of its values, its peak device memory measured and planned
// (refit's planner, the same run shape), and its step time over the run without the lever. memory.offload's values
// are rows here; a lever is a list of LeverCase.
import { planMemory, type ModelDims, type Offload, type RunShape } from '../../src/memory/index.ts';
import type { Decision } from '../../src/run/index.ts';
import { configOf, loadSpecOf, stepsOf } from './auto.ts';
import { saveResults, type CheckContext } from './context.ts';
import { fixedLengths, writeSyntheticDataset } from './dataset.ts';
import { loadModelDims } from '../../src/memory/index.ts';
import type { LeverRow, LeversSection } from './types.ts';
import { gib, runVariant } from './variant.ts';
import { NUM_LABELS } from './worker.ts';

/** One lever value to measure: its name in the table, the value, and what it changes in the decision. */
interface LeverCase {
  lever: string;
  value: string;
  decision: Partial<Decision>;
}

/** memory.offload: none is the run without the lever (every row's baseline). */
const CASES: readonly LeverCase[] = (['none', 'optimizer', 'activations', 'all'] as Offload[]).map(
  (offload) => ({
    lever: 'offload',
    value: offload,
    decision: { offload },
  }),
);

/** The shape of part (e): BERT-base at 512 on a GPU, tiny on CPU. */
function shape(quick: boolean) {
  return quick
    ? { preset: 'bert-tiny', seq: 64, batch: 8, steps: 2, warm: 1 } // a worker start per value is most of it
    : { preset: 'bert-base', seq: 512, batch: 8, steps: 6, warm: 2 };
}

/** An empty part (e) section. */
export function emptyLevers(quick: boolean, cuda: boolean): LeversSection {
  const s = shape(quick);
  return {
    model: s.preset,
    seq_len: s.seq,
    batch_size: s.batch,
    rows: [],
    note: cuda
      ? ''
      : 'CPU: peaks are the worker’s RSS (host and “device” are one memory), a smoke test of every value',
  };
}

/** The decision every row starts from: one micro-batch of the whole batch, the card's 16-bit precision, SDPA. */
function baseDecision(ctx: CheckContext, batch: number, seq: number): Decision {
  const cuda = ctx.device === 'cuda';
  return {
    device: ctx.device,
    batch_size: batch,
    micro_batch_size: batch,
    grad_accumulation: 1,
    precision: cuda ? (ctx.caps.bf16 ? 'bf16' : 'fp16') : 'fp32',
    attention: ctx.caps.sdpa ? 'sdpa' : 'eager',
    grad_checkpointing: false,
    padding: 'max',
    batching: 'buckets',
    max_seq_len: seq,
    freeze_layers: 0,
    optimizer: 'adamw',
    offload: 'none',
    reasons: ['gpu-check (e): one lever changed at a time'],
  };
}

/** The planned peak device bytes of a decision (refit's planner, the run shape the worker trains). */
function planned(ctx: CheckContext, d: Decision, dims: ModelDims): { device: number; host: number } {
  const run: RunShape = {
    engine: 'refit',
    mode: 'train',
    batch_size: d.micro_batch_size,
    seq_len: d.max_seq_len,
    precision: d.precision,
    attention: d.attention,
    grad_checkpointing: d.grad_checkpointing,
    optimizer: d.optimizer,
    num_labels: NUM_LABELS,
    freeze_layers: d.freeze_layers,
    offload: d.offload,
    head: 'entity-start',
  };
  const p = planMemory({ model: dims, run, gpu: ctx.gpu });
  return { device: p.peak_device_bytes, host: p.host?.total ?? 0 };
}

/** Runs part (e) and stores it in ctx.results.levers (saving after each row). */
export async function runLevers(ctx: CheckContext): Promise<void> {
  const s = shape(ctx.quick);
  const sec = ctx.results.levers!;
  const dims = loadModelDims(s.preset, { vocab_size: 21128 });
  const lengths = fixedLengths(s.batch * s.steps, s.seq);
  const dataset = writeSyntheticDataset({
    dir: ctx.tmp_dir,
    name: 'levers',
    lengths,
    vocab_size: dims.vocab_size,
    num_labels: NUM_LABELS,
    seed: 11,
  });
  ctx.say(`(e) levers: ${s.preset}, batch ${s.batch} × length ${s.seq}, one lever value at a time`);
  const base = baseDecision(ctx, s.batch, s.seq);
  let baseline: number | undefined;
  for (const c of CASES) {
    const d: Decision = { ...base, ...c.decision };
    const v = await runVariant(ctx, {
      label: `${c.lever}=${c.value}`,
      load: loadSpecOf(d, dims, s.steps),
      config: configOf(d),
      dataset,
      steps: stepsOf(d, lengths, s.steps),
      warm_steps: s.warm,
      reserve_ms: 20_000,
    });
    const step_s = v.timed_steps > 0 && v.wall_s !== undefined ? v.wall_s / v.timed_steps : undefined;
    if (c.value === 'none') baseline = step_s;
    const plan = planned(ctx, d, dims);
    const row: LeverRow = {
      lever: c.lever,
      value: c.value,
      ok: v.ok,
      ...(v.error ? { error: v.error } : {}),
      oom: v.oom,
      measured_peak: v.peak_device ?? null,
      planned_peak: plan.device,
      rel_err:
        v.peak_device !== undefined
          ? Math.round(((plan.device - v.peak_device) / v.peak_device) * 1e4) / 1e4
          : null,
      planned_host: plan.host,
      step_s: step_s ?? null,
      vs_without: step_s !== undefined && baseline ? Math.round((step_s / baseline) * 1000) / 1000 : null,
    };
    sec.rows.push(row);
    saveResults(ctx);
  }
}

/** Part (e) in gpu-check.md. */
export function leversMarkdown(sec: LeversSection | undefined): string[] {
  if (!sec) return [];
  const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
  return [
    `## (e) Levers: ${sec.model}, batch ${sec.batch_size} × length ${sec.seq_len}, one lever value at a time`,
    '',
    ...(sec.note ? [`${sec.note}.`, ''] : []),
    '| lever | value | result | measured peak GiB | planned peak GiB | plan error | planned host GiB | step s | vs without |',
    '|---|---|---|---|---|---|---|---|---|',
    ...sec.rows.map(
      (r) =>
        `| ${r.lever} | ${r.value} | ${r.ok ? 'ok' : r.oom ? 'OOM' : `error: ${r.error ?? '?'}`} | ${gib(r.measured_peak)} | ` +
        `${gib(r.planned_peak)} | ${pct(r.rel_err)} | ${gib(r.planned_host)} | ${r.step_s?.toFixed(3) ?? '—'} | ` +
        `${r.vs_without === null ? '—' : `${r.vs_without}×`} |`,
    ),
    '',
  ];
}
