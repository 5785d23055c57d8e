// Faults on one of 2 CPU ranks (issue 12), end to end with the real worker: an OOM injected on rank 1 (every rank drops
// the same micro-batch), a killed rank 1 (the others are stopped, the run resumes from its last checkpoint) and a hung
// rank 1 (a collective timeout, one clear line, the same recovery) finish with a clean run's steps, examples and losses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEvents } from './helpers.ts';
import { rankRunner, sameRun } from './distributed-helpers.ts';

const run = rankRunner('refit-dist-faults-');
/** 2 ranks × 1 thread, micro-batch 4 each. */
const train = (name: string, env: Record<string, string> = {}) => run(name, { ranks: 2, env });

let clean: Promise<string> | undefined;
const cleanRun = () => (clean ??= train('clean').then((r) => r.run_dir));

test('an OOM injected on rank 1 (REFIT_INJECT_OOM=3@1) and a killed rank 1 finish like a clean 2-rank run', async () => {
  const oom = await train('oom-rank1', { REFIT_INJECT_OOM: '3@1' });
  const killed = await train('killed-rank1', { REFIT_INJECT_CRASH: '5@1' });
  for (const run of [oom.run_dir, killed.run_dir]) sameRun(run, await cleanRun());
  // Every rank dropped the same micro-batch; the event names the rank that ran out.
  const ooms = readEvents(oom.run_dir).filter((e) => e.event === 'oom');
  assert.deepEqual(
    ooms.map((e) => [e.step, e.rank]),
    [[3, 1]],
  );
  assert.ok(
    readEvents(oom.run_dir).some((e) => e.event === 'recovery' && e.action === 'smaller_micro_batch'),
  );
  // The killed rank stopped the others; the run restarted from its last checkpoint (step 3).
  const restarts = readEvents(killed.run_dir).filter((e) => e.event === 'restart');
  assert.equal(restarts.length, 1);
  assert.equal(restarts[0].resume_step, 3);
  assert.match(restarts[0].reason, /rank 1 died/);
});

test('a hung rank 1 is caught by the collective timeout with one clear line, and the run resumes like a clean one', async () => {
  const hung = await train('hung-rank1', { REFIT_INJECT_HANG: '5@1', REFIT_DIST_TIMEOUT_S: '8' });
  sameRun(hung.run_dir, await cleanRun());
  const restarts = readEvents(hung.run_dir).filter((e) => e.event === 'restart');
  assert.equal(restarts.length, 1);
  assert.equal(restarts[0].resume_step, 3);
  assert.match(
    readFileSync(join(hung.run_dir, 'refit.log'), 'utf8'),
    /rank 0: a collective timed out after 8 s waiting for the other ranks \(a rank hung/,
  );
});
