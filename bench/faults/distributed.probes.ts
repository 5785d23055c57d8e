// Probes of several ranks (issue 12): faults injected on one of 2 CPU ranks (an OOM, a killed rank, a hung rank) end
// in a recovery with the clean run's steps, and wrong rank settings (fsdp on an old torch, a node that never comes,
// node_rank out of range, several nodes without a port) end in one line, never a hang.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Probe, ProbeContext } from './types.ts';

const events = (run: string): Array<Record<string, any>> =>
  readFileSync(join(run, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
const last = (s: string) => s.trim().split('\n').filter(Boolean).pop() ?? '';
/** 2 ranks × 1 thread, bert-tiny, dropout 0 (the tiny args end with --threads 1). */
const twoRanks = (ctx: ProbeContext, out: string, extra: string[] = []) => [
  'train',
  ...ctx.tinyTrainArgs(),
  'model.dropout=0',
  'export.onnx=false',
  '--nproc',
  '2',
  ...extra,
  '--out',
  out,
];
const steps = (run: string) =>
  events(run)
    .filter((e) => e.event === 'run_end')
    .map((e) => `${e.status}, ${e.optimizer_steps} steps, ${e.examples_seen} examples`)[0] ?? 'no run_end';

export const PROBES: Probe[] = [
  {
    item: '12.5',
    did: '`refit train --nproc 2` with REFIT_INJECT_OOM=2@1 (an OOM on rank 1 only, step 2)',
    expected:
      'exit 0; one oom event naming rank 1; every rank re-split the same micro-batch; the steps of a clean run',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const r = await ctx.refit(twoRanks(ctx, out), { env: { REFIT_INJECT_OOM: '2@1' }, timeoutMs: 240_000 });
      if (r.status !== 0) return { ok: false, happened: `exit ${r.status}: ${last(r.stderr)}` };
      const oom = events(out).filter((e) => e.event === 'oom');
      const rec = events(out).filter((e) => e.event === 'recovery');
      return {
        ok: oom.length === 1 && oom[0].rank === 1 && rec.length === 1 && steps(out).startsWith('ok, 4 steps'),
        happened: `exit 0; oom at step ${oom[0]?.step} on rank ${oom[0]?.rank}; ${rec[0]?.action} ${rec[0]?.from}→${rec[0]?.to}; ${steps(out)}`,
      };
    },
  },
  {
    item: '12.5',
    did: '`refit train --nproc 2` with REFIT_INJECT_CRASH=3@1 (rank 1 exits abruptly at step 3)',
    expected:
      'exit 0; rank 0 is stopped at once; a restart event naming rank 1; the run resumes from its last checkpoint',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const r = await ctx.refit(twoRanks(ctx, out), {
        env: { REFIT_INJECT_CRASH: '3@1' },
        timeoutMs: 240_000,
      });
      if (r.status !== 0) return { ok: false, happened: `exit ${r.status}: ${last(r.stderr)}` };
      const restart = events(out).filter((e) => e.event === 'restart');
      return {
        ok:
          restart.length === 1 &&
          /rank 1 died/.test(restart[0].reason) &&
          steps(out).startsWith('ok, 4 steps'),
        happened: `exit 0; restart: ${restart[0]?.reason?.slice(0, 120)}; ${steps(out)}`,
      };
    },
  },
  {
    item: '12.5',
    did: '`refit train --nproc 2` with REFIT_INJECT_HANG=3@1 and REFIT_DIST_TIMEOUT_S=8 (rank 1 hangs at step 3)',
    expected:
      'exit 0 in well under a minute more; refit.log has one line: rank 0: a collective timed out after 8 s (a rank hung); the run resumes',
    async run(ctx) {
      const out = join(ctx.tmp, 'run');
      const t0 = Date.now();
      const r = await ctx.refit(twoRanks(ctx, out), {
        env: { REFIT_INJECT_HANG: '3@1', REFIT_DIST_TIMEOUT_S: '8' },
        timeoutMs: 240_000,
      });
      if (r.status !== 0) return { ok: false, happened: `exit ${r.status}: ${last(r.stderr)}` };
      const line =
        readFileSync(join(out, 'refit.log'), 'utf8')
          .split('\n')
          .find((l) => l.includes('a collective timed out')) ?? '';
      return {
        ok: !!line && steps(out).startsWith('ok, 4 steps'),
        happened: `exit 0 after ${((Date.now() - t0) / 1000).toFixed(0)} s; ${line.replace(/^.*refit_worker: /, '').slice(0, 140)}; ${steps(out)}`,
      };
    },
  },
  {
    item: '12.3',
    did: '`refit train --nproc 2 distributed.strategy=fsdp` on torch 1.13 (no FSDP2)',
    expected: 'a non-zero exit with one line naming fsdp, FSDP2 and the torch version; no stack',
    async run(ctx) {
      const r = await ctx.refit(twoRanks(ctx, join(ctx.tmp, 'run'), ['distributed.strategy=fsdp']), {
        timeoutMs: 120_000,
      });
      const l = r.stderr.split('\n').find((x) => x.includes('fsdp')) ?? last(r.stderr);
      return {
        ok:
          r.status !== 0 &&
          /fsdp needs FSDP2 fully_shard .*this torch is \d/.test(l) &&
          !r.stderr.includes('    at '),
        happened: `exit ${r.status}: ${l}`,
      };
    },
  },
  {
    item: '12.2',
    did: '`refit train distributed.nnodes=2 distributed.node_rank=0 distributed.master_port=P` with no node 1 (REFIT_DIST_TIMEOUT_S=10)',
    expected:
      'a non-zero exit within about the timeout, one line saying rank 0 could not join the process group; no hang',
    async run(ctx) {
      const t0 = Date.now();
      const r = await ctx.refit(
        [
          'train',
          ...ctx.tinyTrainArgs(),
          'distributed.nnodes=2',
          'distributed.node_rank=0',
          'distributed.master_port=29731',
          '--out',
          join(ctx.tmp, 'run'),
        ],
        { env: { REFIT_DIST_TIMEOUT_S: '10' }, timeoutMs: 120_000 },
      );
      const s = (Date.now() - t0) / 1000;
      return {
        ok: r.status !== 0 && r.status !== 124 && /could not join the process group/.test(r.stderr) && s < 90,
        happened: `exit ${r.status} after ${s.toFixed(0)} s: ${last(r.stderr).slice(0, 200)}`,
      };
    },
  },
  {
    item: '12.1',
    did: '`refit train distributed.nnodes=2 distributed.node_rank=2` and `distributed.nnodes=2` without master_port',
    expected: 'exit 2, one line each naming the key',
    async run(ctx) {
      const a = await ctx.refit([
        'train',
        ...ctx.tinyTrainArgs(),
        'distributed.nnodes=2',
        'distributed.node_rank=2',
        'distributed.master_port=29731',
        '--out',
        join(ctx.tmp, 'a'),
      ]);
      const b = await ctx.refit([
        'train',
        ...ctx.tinyTrainArgs(),
        'distributed.nnodes=2',
        '--out',
        join(ctx.tmp, 'b'),
      ]);
      return {
        ok:
          a.status === 2 &&
          b.status === 2 &&
          /distributed\.node_rank 2 must be below/.test(a.stderr) &&
          /distributed\.master_port must be set/.test(b.stderr),
        happened: `exit ${a.status}: ${last(a.stderr)} / exit ${b.status}: ${last(b.stderr)}`,
      };
    },
  },
];
