// Several ranks on CPU (gloo), end to end with the real worker (issue 12): with model.dropout=0, a 2-rank ddp run, a
// 2-rank zero1 run and a 1-process run with the same seed and effective batch give the same per-step losses (relative
// difference ≤ 1e-4) and test metrics; a 2-rank run's checkpoint resumes on 1 rank on the same trajectory.
// Faults on one rank: distributed-faults.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining, StopRequest } from '../../src/run/index.ts';
import { tinyConfig, tinyData, readEvents, readMetrics, runEnv } from './helpers.ts';

const data = tinyData();
const base = mkdtempSync(join(tmpdir(), 'refit-dist-'));
/** 1 epoch of 6 steps (batch 16), dropout 0; `ranks` processes × 1 thread. */
const train = (
  name: string,
  o: {
    ranks?: number;
    overrides?: string[];
    env?: Record<string, string>;
    resume?: boolean;
    epochs?: number;
    stop_after?: number;
  } = {},
) => {
  const stop = new StopRequest();
  return runTraining({
    config: tinyConfig(data, [
      'model.dropout=0',
      `train.epochs=${o.epochs ?? 1}`,
      `distributed.nproc_per_node=${o.ranks ?? 1}`,
      ...(o.overrides ?? []),
    ]),
    out: join(base, name),
    resume: o.resume,
    env: runEnv(o.env),
    checkpoint_every: 3,
    num_threads: 1,
    stop,
    reporters: o.stop_after
      ? [
          {
            onStep: (e) => {
              if (e.step === o.stop_after) stop.request('SIGINT');
            },
          },
        ]
      : [],
  });
};

/** Loss per step number (a step replayed after a restart counts once: its last occurrence). */
const lossByStep = (run: string) => {
  const m = new Map<number, number>();
  for (const e of readEvents(run)) if (e.event === 'step') m.set(e.step, e.loss);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, loss]) => loss);
};
const close = (a: number[], b: number[], what: string) => {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) =>
    assert.ok(
      Math.abs(x - b[i]) <= 1e-4 * Math.max(1e-6, Math.abs(b[i])),
      `${what}: step ${i + 1}: ${x} vs ${b[i]}`,
    ),
  );
};
const sameTest = (a: Record<string, any>, b: Record<string, any>) => {
  assert.equal(a.train.optimizer_steps, b.train.optimizer_steps);
  assert.equal(a.train.examples_seen, b.train.examples_seen);
  assert.equal(a.test.accuracy, b.test.accuracy);
  assert.equal(a.test.macro_f1, b.test.macro_f1);
};

test('2 ranks (ddp), 2 ranks (zero1) and 1 process train the same: per-step losses within 1e-4, same test metrics', async () => {
  const one = await train('one', { overrides: ['memory.mode=manual', 'memory.micro_batch_size=4'] });
  const ddp = await train('ddp', {
    ranks: 2,
    overrides: ['memory.mode=manual', 'memory.micro_batch_size=2'],
  });
  const zero = await train('zero1', {
    ranks: 2,
    overrides: ['memory.mode=manual', 'memory.micro_batch_size=2', 'distributed.strategy=zero1'],
  });
  // A strategy asked for by name on one process: DistributedDataParallel in a group of one (gpu-check part d).
  const solo = await train('ddp-solo', {
    overrides: ['memory.mode=manual', 'memory.micro_batch_size=4', 'distributed.strategy=ddp'],
  });
  const l1 = lossByStep(one.run_dir);
  assert.equal(l1.length, 6);
  close(lossByStep(solo.run_dir), l1, 'ddp in a group of one vs plain');
  assert.match(readFileSync(join(solo.run_dir, 'refit.log'), 'utf8'), /rank 0 of 1 .*joined the gloo group/);
  close(lossByStep(ddp.run_dir), l1, 'ddp vs 1 process');
  close(lossByStep(zero.run_dir), lossByStep(ddp.run_dir), 'zero1 vs ddp');
  sameTest(readMetrics(ddp.run_dir), readMetrics(one.run_dir));
  sameTest(readMetrics(zero.run_dir), readMetrics(ddp.run_dir));
  // Only rank 0 wrote: one model folder, weights without DDP's `module.` prefix (checked by the 1-rank resume below).
  assert.ok(existsSync(join(ddp.run_dir, 'model', 'model.safetensors')));
  const log = readdirSync(ddp.run_dir);
  assert.ok(log.includes('refit.log'));
  // Every step carries both ranks' memory; `memory` is the rank that peaked highest.
  for (const e of readEvents(ddp.run_dir).filter((e) => e.event === 'step')) {
    assert.equal(e.rank_memory?.length, 2, `step ${e.step}: rank_memory`);
    const peaks = e.rank_memory.map((m: { peak_rss_bytes: number }) => m.peak_rss_bytes);
    assert.ok(peaks.every((p: number) => p > 0));
    assert.equal(e.memory.peak_rss_bytes, Math.max(...peaks));
  }
  assert.ok(readEvents(one.run_dir).every((e) => e.event !== 'step' || e.rank_memory === undefined));
});

test('a 2-rank zero1 checkpoint resumes on 1 process on the same trajectory', async () => {
  const full = await train('full-one', { overrides: ['memory.mode=manual', 'memory.micro_batch_size=4'] });
  // Stopped after step 4 on 2 ranks (zero1: the optimizer shards are consolidated into one state on save), resumed on 1.
  await assert.rejects(
    train('switch', {
      ranks: 2,
      stop_after: 4,
      overrides: ['memory.mode=manual', 'memory.micro_batch_size=2', 'distributed.strategy=zero1'],
    }),
    /interrupted/,
  );
  const resumed = await train('switch', {
    resume: true,
    overrides: ['memory.mode=manual', 'memory.micro_batch_size=2'],
  });
  assert.ok(readEvents(resumed.run_dir).some((e) => e.event === 'resume' && e.from_step === 4));
  close(lossByStep(resumed.run_dir), lossByStep(full.run_dir), '2 ranks then 1 vs 1 throughout');
});
