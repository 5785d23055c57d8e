// Part (d): distributed training (issue 12) through `refit train` itself (runTraining). Same generated data,
// seed and effective batch, dropout 0: plain one process; ddp, zero1 and fsdp in a group of one (what each costs on
// one GPU against plain); with two or more GPUs, ddp, zero1 and fsdp on every GPU (per-rank micro-batch = micro / N).
// Figures: examples/s and its ratio to plain in the same run, the highest rank's peak memory, and the largest
// relative difference of the per-step losses from plain. On CPU (quick) bert-tiny with 2 gloo ranks × 1 thread.
// fsdp (FSDP2's fully_shard; bf16 or fp32, which are the precisions used here) needs torch 2.x, and on CPU a torch
// whose FSDP2 trains over gloo: a probe decides before the rows run, and rows it rules out are listed as skipped.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.ts';
import { generateDemoDataset, toDeepkeCsv, toRelationCsv } from '../../src/demo/index.ts';
import { runTraining } from '../../src/run/index.ts';
import { fsdpUnsupported, type MemoryStats } from '../../src/worker/index.ts';
import { stepEvents } from '../run-events.ts';
import { errorText, round, saveResults, timeLeftMs, type CheckContext } from './context.ts';
import type { DistributedRow, DistributedSection } from './types.ts';

/** A row is not started with less than this much of the budget left. */
export const DISTRIBUTED_RESERVE_MS = 60_000;
/** Ranks of the N-rank rows on CPU (gloo, one thread each). */
const CPU_RANKS = 2;

/** Shapes of part (d): full size on a GPU, a short smoke version on CPU. */
function shape(quick: boolean) {
  return quick
    ? { preset: 'bert-tiny', examples: 128, batch: 16, micro: 4, seq: 128, precision: 'fp32' }
    : { preset: 'bert-base', examples: 2048, batch: 64, micro: 16, seq: 128, precision: 'bf16' };
}

/** An empty part (d) section (filled by runDistributed). */
export function emptyDistributed(quick: boolean, cuda: boolean): DistributedSection {
  const s = shape(quick);
  return {
    model: s.preset,
    examples: s.examples,
    batch_size: s.batch,
    micro_batch_size: s.micro,
    max_seq_len: s.seq,
    precision: s.precision,
    gpus: null,
    rows: [],
    skipped: [],
    stopped_early: null,
    note: cuda
      ? 'refit train on generated data, 1 epoch, dropout 0; peak memory = max_memory_reserved of the highest rank'
      : `CPU smoke test: ${CPU_RANKS} gloo ranks × 1 thread for the N-rank rows; peak memory = peak RSS`,
  };
}

/** One row to run: its label, ranks, strategy and the config overrides beyond the shared ones. */
interface Setup {
  setup: string;
  ranks: number;
  strategy: 'plain' | 'ddp' | 'zero1' | 'fsdp';
  micro: number;
  overrides: string[];
}

/** GPUs the worker sees: its capabilities, else torch asked directly; 0 without CUDA. */
function gpuCount(ctx: CheckContext): number {
  if (!ctx.caps.cuda) return 0;
  if (typeof ctx.caps.device_count === 'number') return ctx.caps.device_count;
  try {
    const code = 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)';
    const out = execFileSync(ctx.python, ['-c', code], { encoding: 'utf8', timeout: 60_000 });
    return Number(out.trim()) || 0;
  } catch {
    return 0;
  }
}

/** The strategies of part (d) beside plain, in row order. */
const STRATEGIES = ['ddp', 'zero1', 'fsdp'] as const;

/**
 * The rows of part (d): plain, then ddp, zero1 and fsdp in a group of one, then N ranks when there are N ≥ 2
 * devices (all of them: runDistributed leaves out the fsdp rows when fsdpMissing says this torch cannot train it).
 */
export function distributedSetups(quick: boolean, devices: number): Setup[] {
  const s = shape(quick);
  const rows: Setup[] = [
    { setup: 'plain, 1 process', ranks: 1, strategy: 'plain', micro: s.micro, overrides: [] },
  ];
  for (const st of STRATEGIES)
    rows.push({
      setup: `${st}, group of one`,
      ranks: 1,
      strategy: st,
      micro: s.micro,
      overrides: [`distributed.strategy=${st}`],
    });
  const world = quick ? CPU_RANKS : devices;
  if (world >= 2)
    for (const st of STRATEGIES)
      rows.push({
        setup: `${st}, ${world} ranks`,
        ranks: world,
        strategy: st,
        micro: Math.max(1, s.micro / world),
        overrides: [`distributed.strategy=${st}`, `distributed.nproc_per_node=${world}`],
      });
  return rows;
}

/**
 * Why this torch cannot train `distributed.strategy=fsdp` on the check's device, or null when it can: the worker's own
 * probe (on CPU one sharded step in a group of one — torch 1.13 has no FSDP2; 2.6 has it but fails on CPU —, on CUDA
 * whether fully_shard exists: a failure of the rows themselves is then recorded as their error).
 */
export function fsdpMissing(ctx: CheckContext): string | null {
  const where = ctx.device === 'cuda' ? 'CUDA' : 'CPU';
  try {
    const why = fsdpUnsupported(ctx.python, ctx.env, ctx.device);
    return why && `FSDP2 does not train on ${where} with ${why}`;
  } catch (e) {
    return `the FSDP2 probe failed on ${where} (torch ${ctx.results.device.torch_version}): ${errorText(e)}`;
  }
}

/** Writes the generated training set (train.csv, relation.csv, vocab.txt) into `dir`; returns its overrides. */
function writeData(dir: string, n: number): string[] {
  mkdirSync(dir, { recursive: true });
  const ds = generateDemoDataset({ seed: 5, train: n, valid: 0, test: 0 });
  writeFileSync(join(dir, 'train.csv'), toDeepkeCsv(ds.train));
  writeFileSync(join(dir, 'relation.csv'), toRelationCsv(ds.relations));
  writeFileSync(join(dir, 'vocab.txt'), ds.vocab_lines.join('\n') + '\n');
  return [
    `data.train=${join(dir, 'train.csv')}`,
    `data.relations=${join(dir, 'relation.csv')}`,
    `model.vocab=${join(dir, 'vocab.txt')}`,
  ];
}

/** The peak of one memory reading: reserved on CUDA, RSS on CPU. */
function peakOf(m: MemoryStats | undefined, cuda: boolean): number {
  return (cuda ? m?.max_memory_reserved : m?.peak_rss_bytes) ?? 0;
}

/** The measured figures of a finished run folder; losses compared with plain's when given. */
function figures(run: string, cuda: boolean, plain: number[] | undefined) {
  const steps = stepEvents(run);
  if (steps.length < 2) throw new Error(`only ${steps.length} step event(s) in the run`);
  // Examples/s between the first and the last step event: start-up and the first (warm-up) step excluded.
  const wall = (Date.parse(steps.at(-1)!.time) - Date.parse(steps[0].time)) / 1000;
  const examples = steps.slice(1).reduce((a, e) => a + e.examples, 0);
  const losses = steps.map((e) => e.loss);
  const ranks = steps[0].rank_memory?.length ?? 1;
  const rank_peaks = Array.from({ length: ranks }, (_, r) =>
    Math.max(...steps.map((e) => peakOf(e.rank_memory ? e.rank_memory[r] : e.memory, cuda))),
  );
  let diff: number | null = null;
  if (plain) {
    if (plain.length !== losses.length)
      throw new Error(`${losses.length} steps where plain ran ${plain.length}`);
    diff = Math.max(...losses.map((x, i) => Math.abs(x - plain[i]) / Math.max(1e-6, Math.abs(plain[i]))));
  }
  return {
    steps: steps.length,
    losses,
    examples_per_s: wall > 0 ? examples / wall : undefined,
    peak_bytes: Math.max(...steps.map((e) => peakOf(e.memory, cuda))),
    peak_allocated: cuda ? Math.max(...steps.map((e) => e.memory.max_memory_allocated ?? 0)) : undefined,
    rank_peaks,
    max_rel_loss_diff: diff,
  };
}

/** Runs part (d) and stores it in ctx.results.distributed (saving after each row). */
export async function runDistributed(ctx: CheckContext): Promise<void> {
  const cuda = ctx.device === 'cuda';
  const s = shape(ctx.quick);
  const sec = ctx.results.distributed;
  const gpus = gpuCount(ctx);
  sec.gpus = gpus;
  const dir = join(ctx.tmp_dir, 'distributed');
  const base = [
    ...writeData(join(dir, 'data'), s.examples),
    `model.preset=${s.preset}`,
    'model.dropout=0',
    'train.epochs=1',
    `train.batch_size=${s.batch}`,
    `memory.max_seq_len=${s.seq}`,
    'memory.mode=manual',
    `memory.precision=${s.precision}`,
    `device=${cuda ? 'cuda' : 'cpu'}`,
    'export.onnx=false',
  ];
  let setups = distributedSetups(ctx.quick, gpus);
  const noFsdp = fsdpMissing(ctx);
  if (noFsdp) {
    for (const st of setups)
      if (st.strategy === 'fsdp')
        sec.skipped.push({ setup: st.setup, ranks: st.ranks, strategy: st.strategy, reason: noFsdp });
    setups = setups.filter((st) => st.strategy !== 'fsdp');
  }
  ctx.say(`(d) ${s.preset}, ${s.examples} generated examples, batch ${s.batch}: ${setups.length} rows`);
  if (noFsdp) ctx.say(`  skipped ${sec.skipped.map((k) => k.setup).join(', ')}: ${noFsdp}`);
  if (cuda && gpus < 2) sec.note += `; ${gpus} GPU: the N-rank rows need two or more (one GPU per rank)`;
  // Without a plain run (it failed) the other rows still measure, with no ratio and no loss comparison.
  let plain: { losses: number[]; examples_per_s?: number } | undefined;
  for (const [i, st] of setups.entries()) {
    if (timeLeftMs(ctx) < DISTRIBUTED_RESERVE_MS) {
      const left = Math.round(timeLeftMs(ctx) / 1000);
      sec.stopped_early = `time budget: ${i} of ${setups.length} rows run, stopped with ${left} s left`;
      ctx.say(`  ${sec.stopped_early}`);
      break;
    }
    const row: DistributedRow = {
      setup: st.setup,
      ranks: st.ranks,
      strategy: st.strategy,
      micro_batch_size: st.micro,
      ok: false,
      steps: 0,
    };
    const out = join(dir, `run-${i}`);
    const t0 = Date.now();
    try {
      await runTraining({
        config: resolveConfig({
          overrides: [
            ...base,
            `memory.micro_batch_size=${st.micro}`,
            ...(st.ranks === 1 ? ['distributed.nproc_per_node=1'] : []),
            ...st.overrides,
          ],
        }),
        out,
        env: { ...ctx.env, REFIT_PYTHON: ctx.python, REFIT_CACHE: join(dir, 'cache') },
        num_threads: ctx.num_threads,
      });
      const f = figures(out, cuda, plain?.losses);
      if (st.strategy === 'plain') plain = f;
      Object.assign(row, {
        ok: true,
        steps: f.steps,
        examples_per_s: f.examples_per_s === undefined ? undefined : round(f.examples_per_s, 2),
        ratio_vs_plain:
          f.examples_per_s && plain?.examples_per_s
            ? round(f.examples_per_s / plain.examples_per_s, 2)
            : null,
        peak_bytes: f.peak_bytes,
        peak_allocated: f.peak_allocated,
        rank_peaks: f.rank_peaks,
        max_rel_loss_diff: f.max_rel_loss_diff,
      });
    } catch (e) {
      row.error = errorText(e);
    } finally {
      // A bert-base run folder holds checkpoints of a few GB: only the events were needed.
      rmSync(out, { recursive: true, force: true });
    }
    row.wall_s = round((Date.now() - t0) / 1000, 1);
    sec.rows.push(row);
    ctx.say(
      `  ${st.setup}: ${row.ok ? `${row.examples_per_s} examples/s, loss diff ${row.max_rel_loss_diff?.toExponential(2) ?? '—'}` : `error: ${row.error}`}`,
    );
    saveResults(ctx);
  }
  rmSync(dir, { recursive: true, force: true });
}
