// gpu-check.md: the results as markdown tables (the JSON holds every figure; this is the readable summary).
import type {
  CheckResults,
  DistributedRow,
  DistributedSection,
  GridRow,
  LeverRow,
  VariantResult,
} from './types.ts';

const gib = (x: number | null | undefined) =>
  x === undefined || x === null ? '—' : (x / 2 ** 30).toFixed(2);
const pct = (x: number | null | undefined) =>
  x === undefined || x === null ? '—' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const apct = (x: number | null | undefined) =>
  x === undefined || x === null ? '—' : `${(x * 100).toFixed(2)} %`;
const num = (x: number | null | undefined, d = 0) =>
  x === undefined || x === null
    ? '—'
    : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const yesNo = (x: boolean | undefined) => (x === undefined ? '—' : x ? 'yes' : 'no');
const verdict = (x: boolean | null) => (x === null ? 'n/a' : x ? '**pass**' : '**FAIL**');

/** The model cell; a lever's row names it and its step time against the same point without it (AdamW). */
function modelCell(r: GridRow, rows: readonly GridRow[]): string {
  if (!r.optimizer) return r.model;
  const same = rows.find(
    (o) =>
      !o.optimizer &&
      (['model', 'precision', 'attention', 'grad_checkpointing', 'batch', 'seq'] as const).every(
        (k) => o[k] === r[k],
      ),
  );
  const s = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));
  return `${r.model}, ${r.optimizer} (step ${s(r.step_s)} s; AdamW ${s(same?.step_s)} s)`;
}

function gridRow(r: GridRow, rows: readonly GridRow[]): string {
  const m = r.measured ?? {};
  const status = r.ok
    ? r.cache_flushed === false
      ? 'ok (cache not flushed)'
      : 'ok'
    : r.oom
      ? 'OOM'
      : `error: ${(r.error ?? '').slice(0, 80)}`;
  return (
    `| ${modelCell(r, rows)} | ${r.precision} | ${r.attention} | ${r.grad_checkpointing ? 'on' : 'off'} | ${r.batch} | ${r.seq} | ` +
    `${gib(m.peak_allocated ?? m.peak_rss)} | ${gib(r.predicted?.peak_allocated)} | ${pct(r.rel_err?.allocated)} | ` +
    `${gib(m.peak_reserved)} | ${gib(r.predicted?.peak_reserved)} | ${pct(r.rel_err?.reserved)} | ${gib(m.nonpytorch)} | ${status} |`
  );
}

function variantRow(v: VariantResult): string {
  const c = v.config;
  const status = v.oom
    ? 'OOM'
    : v.error
      ? `error: ${v.error.slice(0, 80)}`
      : v.ok
        ? v.stopped_early
          ? 'ok (cut by the time budget)'
          : 'ok'
        : '—';
  return (
    `| ${v.label} | ${c.precision} | ${c.attention} | ${c.grad_checkpointing ? 'on' : 'off'} | ${c.padding} | ${c.batch_size} = ${c.micro_batch_size} × ${c.grad_accumulation} | ` +
    `${c.optimizer} | ${gib(c.budget_bytes)} | ${status} | ${v.timed_steps} | ${num(v.real_tokens_per_s)} | ${num(v.examples_per_s, 1)} | ` +
    `${v.padding_fraction === undefined ? '—' : apct(v.padding_fraction)} | ${gib(v.peak_allocated ?? v.peak_rss)} | ${gib(v.peak_reserved)} | ${gib(v.peak_device)} | ${gib(v.plan?.peak_device_bytes)} |`
  );
}

const sci = (x: number | null | undefined) =>
  x === undefined || x === null ? '—' : x === 0 ? '0' : x.toExponential(2);

function distributedRow(r: DistributedRow): string {
  const status = r.ok ? 'ok' : `error: ${(r.error ?? '').slice(0, 80)}`;
  const ratio = r.ratio_vs_plain === undefined || r.ratio_vs_plain === null ? '—' : `${r.ratio_vs_plain}×`;
  return (
    `| ${r.setup} | ${r.ranks} | ${r.strategy} | ${r.micro_batch_size} | ${r.steps} | ${num(r.examples_per_s, 1)} | ` +
    `${ratio} | ${gib(r.peak_bytes)} | ${sci(r.max_rel_loss_diff)} | ${status} |`
  );
}

/** A row of part (d) that was not run: its setup and why, in the same table. */
function skippedRow(k: DistributedSection['skipped'][number]): string {
  return `| ${k.setup} | ${k.ranks} | ${k.strategy} | — | — | — | — | — | — | skipped: ${k.reason} |`;
}

/** One line of the summary table for part (d): each row's speed against plain and the worst loss difference. */
function distributedSummary(d: DistributedSection): string {
  const rows = d.rows.filter((r) => r.ok && r.strategy !== 'plain');
  const speed = rows.map((r) => `${r.setup} ${r.ratio_vs_plain ?? '—'}×`).join('; ') || 'no rows run';
  const diffs = rows.map((r) => r.max_rel_loss_diff).filter((x): x is number => typeof x === 'number');
  const errors = d.rows.filter((r) => !r.ok).length;
  const skipped = d.skipped ?? [];
  return (
    `| (d) distributed | examples/s vs plain: ${speed}; max relative loss difference ` +
    `${diffs.length ? sci(Math.max(...diffs)) : '—'}${errors ? `; ${errors} row(s) failed` : ''}` +
    `${skipped.length ? `; ${skipped.length} row(s) skipped: ${skipped[0].reason}` : ''} | — | n/a |`
  );
}

const VARIANT_HEAD =
  '| variant | precision | attention | ckpt | padding | batch = micro × accum | optimizer | budget GiB | result | timed steps | real tokens/s | examples/s | padding share | peak alloc GiB (CPU: RSS) | peak reserved GiB | peak device GiB | planned device GiB |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';

/** The markdown summary of a results object. */
function leverRow(r: LeverRow): string {
  const v = r.with_lever;
  const status = r.error
    ? `error: ${r.error.slice(0, 80)}`
    : v?.oom
      ? 'OOM'
      : v?.error
        ? `error: ${v.error.slice(0, 80)}`
        : 'ok';
  return (
    `| ${r.lever} | \`${r.overrides.join(' ')}\` | ${gib(r.base.peak_device)} | ${gib(r.measured_peak_device)} | ` +
    `${gib(r.planned_peak_device)} | ${pct(r.peak_rel_err)} | ${num(r.step_time_vs_base, 2)} | ` +
    `${num(r.offload_ms_per_step, 1)} | ${num(r.offload_ms_bound, 1)} | ${pct(r.offload_overlap)} | ${status} |`
  );
}

export function renderMarkdown(r: CheckResults): string {
  const d = r.device;
  const g = r.grid;
  const s = r.scenario;
  const t = r.throughput;
  const dd = r.distributed;
  const out: string[] = [
    `# refit GPU check (${r.mode})`,
    '',
    `Command: \`${r.command}\``,
    '',
    `Device: ${d.cuda ? `${d.name}, ${gib(d.total_memory)} GiB` : 'CPU (no CUDA)'}; torch ${d.torch_version}, Python ${d.python_version}; bf16 ${d.bf16}, sdpa ${d.sdpa}, fused AdamW ${d.fused_adamw}; planner GPU spec: ${d.gpu_spec ?? 'none'}.`,
    `Started ${r.started_at}, ${r.elapsed_s} s of a ${r.budget_s} s budget; ${r.complete ? 'complete' : 'INCOMPLETE'}${r.aborted ? ` (${r.aborted})` : ''}.`,
    '',
    '| part | figure | target | verdict |',
    '|---|---|---|---|',
    `| (a) plan vs measured peak | median \\|error\\| allocated ${apct(g.summary.median_abs_err_allocated)} over ${g.summary.ok} points | ≤ ${apct(g.summary.target_median)} | ${verdict(g.summary.pass)} |`,
    `| (b) 12 GB case | DeepKE-like OOM: ${yesNo(s.deepke_like?.oom)}; memory: auto OOM-free: ${yesNo(s.auto ? s.auto.ok && !s.auto.oom : undefined)} | OOM, then none | ${verdict(s.pass)} |`,
    `| (c) throughput | ${t.goal.best_variant ?? '—'}: ${num(t.goal.real_tokens_per_s)} real tokens/s, peak device ${gib(t.goal.peak_device)} GiB; ${t.speedup_examples_per_s ?? '—'}× DeepKE-like examples/s | ≥ ${num(t.goal.target_real_tokens_per_s)} within ${gib(t.goal.budget_bytes)} GiB | ${verdict(t.goal.pass)} |`,
    distributedSummary(dd),
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '## (a) Planned vs measured peak, refit engine',
    '',
    g.comparison + '.',
    '',
    `Points: ${g.summary.points_run} of ${g.points_planned} run, ${g.summary.ok} ok${g.stopped_early ? ` — ${g.stopped_early}` : ''}.`,
    `Median |error| allocated ${apct(g.summary.median_abs_err_allocated)} (max ${apct(g.summary.max_abs_err_allocated)}); reserved ${apct(g.summary.median_abs_err_reserved)} (max ${apct(g.summary.max_abs_err_reserved)}); ` +
      `device ${apct(g.summary.median_abs_err_device)}; median non-PyTorch ${gib(g.summary.median_nonpytorch)} GiB. Target median ≤ ${apct(g.summary.target_median)}: ${verdict(g.summary.pass)}.`,
    '',
    '| model | precision | attention | ckpt | batch | seq | measured alloc GiB | planned alloc GiB | error | measured reserved GiB | planned reserved GiB | error | non-PyTorch GiB | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...g.rows.map((r) => gridRow(r, g.rows)),
    '',
    `## (b) The 12 GB case: ${s.model}, effective batch ${s.effective_batch}, length ${s.seq_len}, budget ${s.budget_bytes ? `${gib(s.budget_bytes)} GiB (enforced with set_per_process_memory_fraction)` : 'none'}`,
    '',
    `Expected: DeepKE-like runs out of memory, \`memory: auto\` trains without an OOM. Verdict: ${verdict(s.pass)}.${s.note ? ` ${s.note}.` : ''}`,
    '',
    VARIANT_HEAD,
    ...[s.deepke_like, s.auto].filter((v): v is VariantResult => Boolean(v)).map(variantRow),
    '',
    ...(s.deepke_like?.oom_message
      ? ['DeepKE-like OOM message (verbatim):', '', '```', s.deepke_like.oom_message, '```', '']
      : []),
    ...(s.auto?.decision_reasons ? [`memory: auto decision: ${s.auto.decision_reasons.join('; ')}`, ''] : []),
    `## (c) Throughput on realistic lengths: ${t.model}`,
    '',
    `Lengths: ${t.lengths.n} sentences, mean ${t.lengths.mean}, max ${t.lengths.max} tokens; ${t.lengths.source}. ${t.note}.`,
    '',
    VARIANT_HEAD,
    ...t.variants.map(variantRow),
    '',
    `refit (same effective batch) / DeepKE-like examples/s: ${t.speedup_examples_per_s === null ? '—' : `${t.speedup_examples_per_s}×`}. ` +
      `Goal ≥ ${num(t.goal.target_real_tokens_per_s)} real tokens/s within ${gib(t.goal.budget_bytes)} GiB: best ${t.goal.best_variant ?? '—'} ${num(t.goal.real_tokens_per_s)} tokens/s, ` +
      `peak device ${gib(t.goal.peak_device)} GiB → ${verdict(t.goal.pass)}.`,
    '',
    `## (d) Distributed training: ${dd.model}, ${dd.precision}, effective batch ${dd.batch_size}, length ≤ ${dd.max_seq_len}`,
    '',
    `${dd.examples} generated examples, one epoch, dropout 0, the same seed and effective batch in every row ` +
      `(per-rank micro-batch = ${dd.micro_batch_size} / ranks); GPUs seen: ${dd.gpus ?? '—'}. ${dd.note}.` +
      `${dd.stopped_early ? ` ${dd.stopped_early}.` : ''}`,
    '',
    '| setup | ranks | strategy | micro-batch per rank | steps | examples/s | vs plain | peak GiB, highest rank (CPU: RSS) | max relative loss difference vs plain | result |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...dd.rows.map(distributedRow),
    ...(dd.skipped ?? []).map(skippedRow),
    '',
    `## (e) Levers: ${r.levers.model}, effective batch ${r.levers.effective_batch} (micro-batch ${r.levers.micro_batch_size}), length ${r.levers.seq_len}`,
    '',
    `Each lever against the same run without it.${r.levers.note ? ` ${r.levers.note}.` : ''} Offload: the ms it ` +
      'adds to an optimizer step, the planner’s bound for them if nothing overlapped (copies over the host link and ' +
      'the host’s step), and the share of that bound the worker hides behind compute.',
    '',
    '| lever | overrides | peak without, GiB | measured peak with, GiB | planned peak with, GiB | planned vs measured | step time vs without | offload ms/step added | not overlapped, ms | hidden | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.levers.rows.map(leverRow),
    '',
  ];
  return out.join('\n');
}
