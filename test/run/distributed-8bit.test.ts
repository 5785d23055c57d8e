// 8-bit AdamW under zero1 on CPU (gloo), end to end with the real worker: ZeroRedundancyOptimizer shards whole
// parameters, each rank running an 8-bit AdamW over its own (their blocks are per parameter), so a 2-rank zero1 run
// and a 1-process run with the same seed and effective batch give the same per-step losses (relative difference
// ≤ 1e-4, as distributed.test.ts holds zero1 with AdamW) and test metrics; a 2-rank checkpoint (the shards
// consolidated into one 8-bit state) resumes on 1 process on the same trajectory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEvents, readMetrics } from './helpers.ts';
import { closeLosses as close, lossByStep, rankRunner, sameTest } from './distributed-helpers.ts';

const train = rankRunner('refit-dist8-');
const EIGHT = 'memory.optimizer=adamw-8bit';
let plain: ReturnType<typeof train> | undefined;
const onePlain = () => (plain ??= train('one', { overrides: [EIGHT] }));

test('adamw-8bit: 2 ranks (zero1) and 1 process train the same: per-step losses within 1e-4, same test metrics', async () => {
  const one = await onePlain();
  const zero = await train('zero1', { ranks: 2, micro: 2, overrides: [EIGHT, 'distributed.strategy=zero1'] });
  const l1 = lossByStep(one.run_dir);
  assert.equal(l1.length, 6);
  close(lossByStep(zero.run_dir), l1, 'zero1 vs 1 process');
  sameTest(readMetrics(zero.run_dir), readMetrics(one.run_dir));
  const plan = JSON.parse(readFileSync(join(zero.run_dir, 'plan.json'), 'utf8'));
  assert.equal(plan.decision.optimizer, 'adamw-8bit');
  assert.equal(plan.decision.strategy, 'zero1');
});

test('adamw-8bit: a 2-rank zero1 checkpoint resumes on 1 process on the same trajectory', async () => {
  const full = await onePlain();
  await assert.rejects(
    train('switch', { ranks: 2, micro: 2, stop_after: 4, overrides: [EIGHT, 'distributed.strategy=zero1'] }),
    /interrupted/,
  );
  const resumed = await train('switch', { resume: true, micro: 2, overrides: [EIGHT] });
  assert.ok(readEvents(resumed.run_dir).some((e) => e.event === 'resume' && e.from_step === 4));
  close(lossByStep(resumed.run_dir), lossByStep(full.run_dir), '2 ranks then 1 vs 1 throughout');
});
