// Optimizer offload (optimizer, all) through a whole run with the real worker: two micro-batches a step, checkpointing on and clipping,
// an injected OOM (the step's first micro-batch dropped and re-split) and the worker killed at step 10 (it exits as
// kill -9 would; the supervisor restarts it from the step-8 checkpoint). Every step's loss equals the same faulty run
// without offload within 1e-6, and step 9 replayed after the restart equals step 9 before it: the resume is the run
// that was not interrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../src/run/index.ts';
import { tinyConfig, tinyData, readEvents, runEnv } from './helpers.ts';

const data = tinyData();
const base = mkdtempSync(join(tmpdir(), 'refit-offload-faults-'));
const LEVERS = [
  'memory.mode=manual',
  'memory.micro_batch_size=8',
  'memory.grad_checkpointing=true',
  'train.max_grad_norm=0.5',
];
const FAULTS = { REFIT_INJECT_OOM: '3', REFIT_INJECT_CRASH: '10' };

const train = (name: string, offload: string) =>
  runTraining({
    config: tinyConfig(data, [...LEVERS, `memory.offload=${offload}`]),
    out: join(base, name),
    env: runEnv(FAULTS),
    dropout: 0.1,
    checkpoint_every: 4,
    num_threads: 1,
  });

/** Every step event's (step, loss) in order, a replayed step included. */
const steps = (run: string) =>
  readEvents(run)
    .filter((e) => e.event === 'step')
    .map((e) => [e.step as number, e.loss as number] as const);

test('optimizer and all offload: an injected OOM and a kill at step 10 give the losses of the same run without offload', async () => {
  const plain = await train('none', 'none');
  const p = steps(plain.run_dir);
  for (const offload of ['optimizer', 'all']) {
    const off = await train(offload, offload);
    const o = steps(off.run_dir);
    assert.deepEqual(
      o.map(([s]) => s),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 11, 12],
      `${offload}: step 9 replayed once after the kill at 10`,
    );
    assert.deepEqual(
      p.map(([s]) => s),
      o.map(([s]) => s),
    );
    o.forEach(([s, loss], i) =>
      assert.ok(
        Math.abs(loss - p[i][1]) <= 1e-6,
        `${offload}: step ${s}: ${loss} vs ${p[i][1]} without offload`,
      ),
    );
    const nine = o.filter(([s]) => s === 9).map(([, l]) => l);
    assert.equal(nine[0], nine[1], `${offload}: step 9 after the restart = step 9 before it`);
    const ev = readEvents(off.run_dir);
    assert.deepEqual(
      ev.filter((e) => e.event === 'oom').map((e) => e.step),
      [3],
    );
    assert.equal(ev.filter((e) => e.event === 'restart').length, 1);
  }
});
