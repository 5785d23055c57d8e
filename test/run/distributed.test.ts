// Several ranks on CPU (gloo), end to end with the real worker (issue 12): with model.dropout=0, a 2-rank ddp run, a
// 2-rank zero1 run and a 1-process run with the same seed and effective batch give the same per-step losses (relative
// difference ≤ 1e-4) and test metrics; a 2-rank run's checkpoint resumes on 1 rank on the same trajectory.
// Faults on one rank: distributed-faults.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEvents, readMetrics } from './helpers.ts';
import { closeLosses as close, lossByStep, rankRunner, sameTest } from './distributed-helpers.ts';

const train = rankRunner('refit-dist-');
/** The 1-process run both tests compare with (micro-batch 4). */
let plain: ReturnType<typeof train> | undefined;
const onePlain = () => (plain ??= train('one'));

test('2 ranks (ddp), 2 ranks (zero1) and 1 process train the same: per-step losses within 1e-4, same test metrics', async () => {
  const one = await onePlain();
  const ddp = await train('ddp', { ranks: 2, micro: 2 });
  const zero = await train('zero1', { ranks: 2, micro: 2, overrides: ['distributed.strategy=zero1'] });
  // A strategy asked for by name on one process: DistributedDataParallel in a group of one (gpu-check part d).
  const solo = await train('ddp-solo', { overrides: ['distributed.strategy=ddp'] });
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
  const full = await onePlain();
  // Stopped after step 4 on 2 ranks (zero1: the optimizer shards are consolidated into one state on save), resumed on 1.
  await assert.rejects(
    train('switch', { ranks: 2, micro: 2, stop_after: 4, overrides: ['distributed.strategy=zero1'] }),
    /interrupted/,
  );
  const resumed = await train('switch', { resume: true, micro: 2 });
  assert.ok(readEvents(resumed.run_dir).some((e) => e.event === 'resume' && e.from_step === 4));
  close(lossByStep(resumed.run_dir), lossByStep(full.run_dir), '2 ranks then 1 vs 1 throughout');
});
