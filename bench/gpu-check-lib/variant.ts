// One training configuration run on a fresh worker (parts b and c): load, warm-up steps, timed steps,
// memory from the step events. An OOM, a worker error or a crash is recorded in the result, never thrown.
import { parseOomReport } from '../../src/memory/doctor/index.ts';
import type { MicroBatch, StepEvent } from '../../src/worker/index.ts';
import { errorText, round, timeLeftMs, type CheckContext } from './context.ts';
import type { VariantResult } from './types.ts';
import { CheckWorker, type LoadSpec } from './worker.ts';

/** What to run: a load spec, a dataset and the logical batches (each a list of micro-batches). */
export interface VariantSpec {
  label: string;
  load: LoadSpec;
  config: VariantResult['config'];
  dataset: string;
  steps: MicroBatch[][];
  warm_steps: number;
  /** Stop the timed steps when less than this much of the run's time is left. */
  reserve_ms: number;
  /** Environment for this variant's worker only (tests inject faults with it). */
  extra_env?: Record<string, string>;
}

interface Tally {
  examples: number;
  tokens: number;
  padded: number;
  worker_s: number;
  wall_ms: number;
  timed: number;
}

/** Runs the variant on its own worker and returns what happened. */
export async function runVariant(ctx: CheckContext, v: VariantSpec): Promise<VariantResult> {
  const res: VariantResult = {
    label: v.label,
    config: v.config,
    ok: false,
    oom: false,
    steps_run: 0,
    timed_steps: 0,
  };
  ctx.say(`  ${v.label}: ${describe(v.config)}`);
  let worker: CheckWorker | undefined;
  try {
    worker = await CheckWorker.start({
      python: ctx.python,
      env: ctx.env,
      log: ctx.log,
      num_threads: ctx.num_threads,
      extra_env: v.extra_env,
    });
    await worker.load(v.load);
    await worker.open('data', v.dataset);
    await worker.memory(true);
    await runSteps(ctx, worker, v, res);
  } catch (e) {
    res.error = errorText(e);
    // An OOM outside a micro-batch (e.g. in the optimizer step) reaches us as an error event: it is still an OOM.
    if (/out of memory/i.test(res.error)) {
      res.oom = true;
      res.oom_message = e instanceof Error ? e.message : String(e);
      res.oom_report = { ...parseOomReport(res.oom_message) };
    }
    ctx.say(`    error: ${res.error}`);
  } finally {
    await worker?.close();
  }
  return res;
}

async function runSteps(
  ctx: CheckContext,
  worker: CheckWorker,
  v: VariantSpec,
  res: VariantResult,
): Promise<void> {
  const t: Tally = { examples: 0, tokens: 0, padded: 0, worker_s: 0, wall_ms: 0, timed: 0 };
  let last: StepEvent | undefined;
  let started = 0;
  for (let i = 0; i < v.steps.length; i++) {
    if (i === v.warm_steps) started = performance.now();
    if (i > v.warm_steps && timeLeftMs(ctx) < v.reserve_ms) {
      res.stopped_early = `time budget: stopped after ${i} of ${v.steps.length} steps`;
      break;
    }
    const ev = await worker.step({ step: i + 1, dataset: 'data', micro_batches: v.steps[i] });
    if (ev.type === 'oom') {
      res.oom = true;
      res.oom_message = ev.message;
      res.oom_report = { ...parseOomReport(ev.message) };
      recordMemory(res, ev.memory);
      ctx.say(`    out of memory at step ${i + 1}: ${ev.message.split('\n')[0].slice(0, 160)}`);
      break;
    }
    res.steps_run++;
    last = ev;
    if (i >= v.warm_steps) {
      t.timed++;
      t.examples += ev.examples;
      t.tokens += ev.tokens;
      t.padded += ev.padded_tokens;
      t.worker_s += ev.seconds;
      t.wall_ms = performance.now() - started;
    }
  }
  if (last && !res.oom) recordMemory(res, last.memory);
  if (res.peak_reserved !== undefined) {
    res.nonpytorch = await worker.nonPytorch();
    if (res.nonpytorch !== undefined) res.peak_device = res.peak_reserved + res.nonpytorch;
  }
  finishRates(res, t);
  res.ok = !res.oom && !res.error && res.steps_run > 0;
  ctx.say(
    `    ${res.oom ? 'OOM' : `${res.steps_run} steps`}; peak device ${gib(res.peak_device)}; ${res.real_tokens_per_s !== undefined ? `${Math.round(res.real_tokens_per_s)} real tokens/s, ${res.examples_per_s} examples/s` : 'no timed steps'}`,
  );
}

/** Peaks from a step (or oom) event (the device peak adds the non-PyTorch bytes, measured afterwards). */
function recordMemory(res: VariantResult, m: StepEvent['memory']): void {
  if (m.device === 'cuda') {
    res.peak_allocated = m.max_memory_allocated;
    res.peak_reserved = m.max_memory_reserved;
  } else {
    res.peak_rss = m.peak_rss_bytes;
    res.peak_device = m.peak_rss_bytes;
  }
}

function finishRates(res: VariantResult, t: Tally): void {
  res.timed_steps = t.timed;
  if (t.timed === 0 || t.wall_ms <= 0) return;
  const s = t.wall_ms / 1000;
  res.wall_s = round(s, 3);
  res.worker_step_s = round(t.worker_s, 3);
  res.examples_per_s = round(t.examples / s, 1);
  res.real_tokens_per_s = round(t.tokens / s, 0);
  res.padded_tokens_per_s = round(t.padded / s, 0);
  res.padding_fraction = round(1 - t.tokens / t.padded, 4);
}

/** One line describing a configuration. */
export function describe(c: VariantResult['config']): string {
  return (
    `${c.precision}, ${c.attention}, ckpt ${c.grad_checkpointing ? 'on' : 'off'}, ${c.optimizer}, padding ${c.padding}, ` +
    `batch ${c.batch_size} = ${c.micro_batch_size} × ${c.grad_accumulation}, max_seq_len ${c.max_seq_len}` +
    (c.budget_bytes ? `, budget ${gib(c.budget_bytes)}` : '')
  );
}

/** Bytes as GiB with two decimals ('—' when unknown). */
export function gib(bytes: number | undefined | null): string {
  return bytes === undefined || bytes === null ? '—' : `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}
