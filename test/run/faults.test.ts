// Lossless recovery, end to end with the real worker: injected OOMs (re-planned micro-batches) and an injected
// crash (restart from the last checkpoint) finish with the same steps, examples and test metrics as a clean run.
// Dropout is 0 here so runs whose micro-batch splits differ are equal up to float rounding (with dropout, a
// re-split micro-batch draws other masks and the runs are only statistically equal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../src/run/index.ts';
import { tinyConfig, tinyData, readEvents, readMetrics, runEnv } from './helpers.ts';

const data = tinyData();
const base = mkdtempSync(join(tmpdir(), 'refit-faults-'));
const train = (
  name: string,
  opts: { overrides?: string[]; env?: Record<string, string>; resume?: boolean; max_restarts?: number } = {},
) =>
  runTraining({
    config: tinyConfig(data, opts.overrides),
    out: join(base, name),
    resume: opts.resume,
    env: runEnv(opts.env),
    dropout: 0,
    checkpoint_every: 4,
    num_threads: 1,
    max_restarts: opts.max_restarts,
  });

/** Loss per step number (a step replayed after a crash counts once: its last occurrence). */
const lossByStep = (run: string) => {
  const m = new Map<number, number>();
  for (const e of readEvents(run)) if (e.event === 'step') m.set(e.step, e.loss);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, loss]) => loss);
};

test('clean run, injected OOMs + crash, and a 4-example micro-batch split all train the same', async () => {
  const clean = await train('clean');
  const faulty = await train('faulty', { env: { REFIT_INJECT_OOM: '3,7', REFIT_INJECT_CRASH: '10' } });
  const split = await train('split', { overrides: ['memory.mode=manual', 'memory.micro_batch_size=4'] });
  const c = readMetrics(clean.run_dir),
    f = readMetrics(faulty.run_dir),
    s = readMetrics(split.run_dir);
  assert.equal(c.train.optimizer_steps, 12);
  for (const other of [f, s]) {
    assert.equal(other.train.optimizer_steps, c.train.optimizer_steps);
    assert.equal(other.train.examples_seen, c.train.examples_seen);
    // 48 test examples: 0.01 allows no flipped prediction; the maths is the same up to fp32 rounding.
    assert.ok(
      Math.abs(other.test.accuracy - c.test.accuracy) <= 0.01,
      `${other.test.accuracy} vs ${c.test.accuracy}`,
    );
    assert.ok(Math.abs(other.test.macro_f1 - c.test.macro_f1) <= 0.01);
  }
  // Per-step losses agree to fp32 accumulation rounding (tolerance 1e-3 relative over 12 AdamW steps).
  const lc = lossByStep(clean.run_dir);
  for (const run of [faulty.run_dir, split.run_dir]) {
    const lo = lossByStep(run);
    assert.equal(lo.length, 12);
    lc.forEach((x, i) =>
      assert.ok(Math.abs(lo[i] - x) <= 1e-3 * Math.max(1, Math.abs(x)), `step ${i + 1}: ${lo[i]} vs ${x}`),
    );
  }
  const ev = readEvents(faulty.run_dir);
  assert.deepEqual(
    ev.filter((e) => e.event === 'oom').map((e) => e.step),
    [3, 7],
  );
  const rec = ev.filter((e) => e.event === 'recovery');
  assert.equal(rec[0].action, 'smaller_micro_batch');
  assert.ok(rec[0].to < rec[0].from);
  const restart = ev.filter((e) => e.event === 'restart');
  assert.equal(restart.length, 1);
  assert.equal(restart[0].step, 10);
  assert.equal(restart[0].resume_step, 8, 'resumes from the step-8 checkpoint (checkpoint_every 4)');
  const stepsLogged = ev.filter((e) => e.event === 'step').map((e) => e.step);
  assert.deepEqual(
    stepsLogged,
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12],
    'step 9 replayed once after the crash at 10',
  );
});

test('--resume continues a run that died from its last checkpoint', async () => {
  const env = { REFIT_INJECT_CRASH: '10' };
  await assert.rejects(
    train('resumed', { env, max_restarts: 0 }),
    (e: Error & { code?: string }) => e.code === 'E_WORKER_CRASH',
  );
  assert.ok(existsSync(join(base, 'resumed', 'checkpoints', 'last.json')));
  assert.ok(!existsSync(join(base, 'resumed', 'metrics.json')));
  const done = await train('resumed', { env, resume: true });
  const clean = readMetrics(join(base, 'clean'));
  assert.equal(done.metrics.train.optimizer_steps, 12);
  assert.equal(done.metrics.train.examples_seen, clean.train.examples_seen);
  assert.ok(Math.abs(done.metrics.test!.accuracy - clean.test.accuracy) <= 0.01);
  const starts = readEvents(join(base, 'resumed')).filter((e) => e.event === 'run_start');
  assert.equal(starts.at(-1)!.resumed_from_step, 8);
});

test('repeated OOM escalates: micro-batch 1 → gradient checkpointing → activation offload → optimizer offload too → shorter window (allowed) → one-line error', async () => {
  // '3*': the worker injects the OOM every time step 3 runs, so every rung of the ladder is tried on step 3.
  const p = train('ladder', {
    overrides: [
      'train.batch_size=2',
      'memory.mode=manual',
      'memory.micro_batch_size=1',
      'memory.allow_shorter_seq=true',
    ],
    env: { REFIT_INJECT_OOM: '3*' },
  });
  await assert.rejects(
    p,
    (e: Error & { code?: string }) => e.code === 'E_OOM_UNRECOVERABLE' && !e.message.includes('\n'),
  );
  const ev = readEvents(join(base, 'ladder'));
  assert.deepEqual(
    ev.filter((e) => e.event === 'oom').map((e) => e.step),
    [3, 3, 3, 3, 3],
  );
  assert.deepEqual(
    ev.filter((e) => e.event === 'recovery').map((e) => [e.action, e.from, e.to]),
    [
      ['grad_checkpointing', false, true],
      ['offload', 'none', 'activations'],
      ['offload', 'activations', 'all'],
      ['shorter_seq', 64, 32],
    ],
  );
  assert.equal(ev.at(-1)!.event, 'run_end');
  assert.equal(ev.at(-1)!.status, 'failed');
});
